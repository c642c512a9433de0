"""A priori compressed 2D convolutions: kernels built from 1-way filters.

A full ``Conv2d`` kernel has shape ``(out, in, kh, kw)``. For each output channel ``o`` it
contains a 3-way kernel ``W[o]`` of shape ``(in, kh, kw)``, and for each pair ``(o, i)`` a
2-way kernel ``W[o, i]`` of shape ``(kh, kw)``. Boukraichi et al. (2023) replace these
kernels before training by sums of outer products of 1-way filters, so that the network
starts, and stays, with few parameters. Three forms are provided:

- ``form="cp"``: each 3-way kernel is a rank-``R`` canonical polyadic sum
  ``W[o] = sum_r a[o, r] (x) b[o, r] (x) c[o, r]`` with ``a`` over input channels, ``b``
  over kernel rows and ``c`` over kernel columns. Parameters: ``out * R * (in + kh + kw)``.
  Rank ``kh * kw`` represents every kernel.
- ``form="2way"``: each 2-way kernel is a rank-``R`` product
  ``W[o, i] = sum_r b[o, i, r] c[o, i, r]^T``. Parameters: ``out * in * R * (kh + kw)``.
  Rank ``min(kh, kw)`` represents every kernel.
- ``form="2way-shared"``: every 2-way kernel is a rank-``R`` product whose column
  filters are shared by all output channels and whose row filters are shared by all
  input channels, ``W[o, i] = sum_r b[r, i] c[o, r]^T``. The layer is then a ``(kh, 1)``
  convolution from ``in`` to ``R`` channels followed by a ``(1, kw)`` convolution from
  ``R`` to ``out`` channels. Parameters: ``R * (in * kh + out * kw)``. Rank
  ``min(in * kh, out * kw)`` represents every kernel.

The ``cp`` and ``2way`` forms factorise each kernel on its own, as Boukraichi et al. do.
``2way-shared`` shares the filters between kernels, as in the spatially separable
low-rank layers of Jaderberg, Vedaldi and Zisserman (2014). It is not the paper's form,
but its factored path is two ordinary convolutions, which oneDNN runs fast on the CPU.

The parameters are always the factors. The attribute ``execution`` chooses how the
convolution is computed from them:

- ``"factored"`` never builds the dense kernel. The ``cp`` form runs a 1x1 convolution, a
  depthwise column and a depthwise row convolution, and sums the rank terms. The ``2way``
  form runs a grouped column convolution and a grouped row convolution. The
  ``2way-shared`` form runs a ``(k, 1)`` and a ``(1, k)`` convolution. This path has
  the fewest operations.
- ``"dense"`` builds the ``(out, in, k, k)`` kernel from the factors (an einsum, cheap
  beside the convolution) and calls one dense convolution. Gradients still reach only
  the factors. On the CPU, PyTorch's depthwise convolutions are far slower than its dense
  one, their backward pass in particular: on 64x64 fields with 32 channels, a training
  epoch of the wave CNN took about 13 times longer on the factored path (PyTorch 2.14).
- ``"auto"`` (the default) uses the dense path in training mode and the factored one in
  evaluation mode, except for ``2way-shared``, whose factored path is used in both
  because its two convolutions are dense ones.

References
----------
H. Boukraichi, N. Akkari, F. Casenave, D. Ryckelynck, "A priori compression of
convolutional neural networks for wave simulators", Engineering Applications of
Artificial Intelligence, 2023 (arXiv:2304.04964).

M. Jaderberg, A. Vedaldi, A. Zisserman, "Speeding up convolutional neural networks with
low rank expansions", British Machine Vision Conference, 2014.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

FORMS = ("cp", "2way", "2way-shared")


def full_rank(
    form: str, kernel_size: int, in_channels: int | None = None, out_channels: int | None = None
) -> int:
    """Return the smallest rank at which a compressed kernel can represent any dense one.

    The ``2way-shared`` form needs ``in_channels`` and ``out_channels``, because its
    filters are shared between kernels. The other forms ignore them.

    Raises
    ------
    ValueError
        If ``form`` is unknown, or it is ``2way-shared`` and a channel count is missing.
    """
    _check_form(form)
    if form == "cp":
        return kernel_size * kernel_size
    if form == "2way":
        return kernel_size
    if in_channels is None or out_channels is None:
        raise ValueError(
            "the full rank of form '2way-shared' depends on the channels: pass in_channels "
            f"and out_channels (got {in_channels} and {out_channels})"
        )
    return min(in_channels, out_channels) * kernel_size


def compressed_parameter_count(
    in_channels: int, out_channels: int, kernel_size: int, rank: int, form: str, bias: bool = True
) -> int:
    """Return the number of trainable parameters of a :class:`CompressedConv2d`."""
    _check_form(form)
    if form == "cp":
        count = out_channels * rank * (in_channels + 2 * kernel_size)
    elif form == "2way":
        count = out_channels * in_channels * rank * 2 * kernel_size
    else:
        count = rank * kernel_size * (in_channels + out_channels)
    return count + (out_channels if bias else 0)


class CompressedConv2d(nn.Module):
    """A square-kernel 2D convolution whose kernel is a sum of 1-way filter products.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and output.
    kernel_size : int
        Odd kernel width ``k``. The layer pads by ``k // 2`` with zeros, so the output
        has the input's spatial shape, like ``nn.Conv2d(..., padding=k // 2)``.
    rank : int
        Number of rank-one terms ``R`` per kernel; see the module notes for the counts.
    form : {"cp", "2way", "2way-shared"}
        Which kernels are factorised: the 3-way kernel of each output channel, the
        2-way kernel of each channel pair, or all 2-way kernels with shared filters.
    bias : bool
        Add a learned bias per output channel.

    Raises
    ------
    ValueError
        If ``kernel_size`` is even, ``rank`` is not positive, or ``form`` is unknown.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        rank: int,
        form: str = "cp",
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_form(form)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        if rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.rank = rank
        self.form = form
        k = kernel_size
        if form == "cp":
            self.channel_factor = nn.Parameter(torch.empty(out_channels, rank, in_channels))
            self.column_factor = nn.Parameter(torch.empty(out_channels, rank, k))
            self.row_factor = nn.Parameter(torch.empty(out_channels, rank, k))
        elif form == "2way":
            self.column_factor = nn.Parameter(torch.empty(out_channels, in_channels, rank, k))
            self.row_factor = nn.Parameter(torch.empty(out_channels, in_channels, rank, k))
        else:
            # Stored as the kernels of the two convolutions, (R, in, k, 1) and (out, R, 1, k).
            self.column_factor = nn.Parameter(torch.empty(rank, in_channels, k, 1))
            self.row_factor = nn.Parameter(torch.empty(out_channels, rank, 1, k))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.execution = "auto"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw factors whose product has the variance of PyTorch's default Conv2d kernel.

        ``nn.Conv2d`` draws kernel entries uniformly in ``[-s, s]`` with
        ``s = 1 / sqrt(in * k * k)``, so their variance is ``s^2 / 3``. Each entry of a
        compressed kernel is a sum of ``R`` products of ``m`` factors (3 for ``cp``, 2 for
        ``2way``). Every factor is drawn with standard deviation
        ``(s^2 / (3 R))^(1 / (2 m))``, which gives the products that variance.
        """
        fan_in = self.in_channels * self.kernel_size**2
        variance = 1.0 / (3.0 * fan_in)
        factors = 3 if self.form == "cp" else 2
        std = (variance / self.rank) ** (1.0 / (2 * factors))
        for parameter in self._factors():
            nn.init.normal_(parameter, 0.0, std)
        if self.bias is not None:
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def _factors(self) -> list[nn.Parameter]:
        if self.form == "cp":
            return [self.channel_factor, self.column_factor, self.row_factor]
        return [self.column_factor, self.row_factor]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        execution = self.execution
        if execution == "auto":
            dense = self.training and self.form != "2way-shared"
            execution = "dense" if dense else "factored"
        if execution == "dense":
            return F.conv2d(x, self.to_dense(), self.bias, padding=self.kernel_size // 2)
        if self.form == "cp":
            return self._forward_cp(x)
        if self.form == "2way":
            return self._forward_2way(x)
        pad = self.kernel_size // 2
        y = F.conv2d(x, self.column_factor, padding=(pad, 0))
        return F.conv2d(y, self.row_factor, self.bias, padding=(0, pad))

    def _forward_cp(self, x: torch.Tensor) -> torch.Tensor:
        out, rank, k = self.out_channels, self.rank, self.kernel_size
        pad = k // 2
        # Channel mixing: one 1x1 filter per (output channel, rank term).
        y = F.conv2d(x, self.channel_factor.reshape(out * rank, self.in_channels, 1, 1))
        # Column, then row filter on each of the out * rank maps (depthwise convolutions).
        y = F.conv2d(y, self.column_factor.reshape(out * rank, 1, k, 1), padding=(pad, 0),
                     groups=out * rank)
        y = F.conv2d(y, self.row_factor.reshape(out * rank, 1, 1, k), padding=(0, pad),
                     groups=out * rank)
        # Sum the rank terms of each output channel. On the CPU this is faster than one
        # grouped row convolution with rank inputs per group (PyTorch 2.x, measured).
        batch, _, height, width = y.shape
        y = y.view(batch, out, rank, height, width).sum(dim=2)
        return y if self.bias is None else y + self.bias.view(1, out, 1, 1)

    def _forward_2way(self, x: torch.Tensor) -> torch.Tensor:
        out, inp, rank, k = self.out_channels, self.in_channels, self.rank, self.kernel_size
        pad = k // 2
        # Column filters per input channel, producing maps ordered (input, output, rank).
        columns = self.column_factor.permute(1, 0, 2, 3).reshape(inp * out * rank, 1, k, 1)
        y = F.conv2d(x, columns, padding=(pad, 0), groups=inp)
        # Reorder to (output, input, rank) so that each output channel sums one group.
        batch, _, height, width = y.shape
        y = y.reshape(batch, inp, out, rank, height, width).transpose(1, 2)
        y = y.reshape(batch, out * inp * rank, height, width)
        rows = self.row_factor.reshape(out, inp * rank, 1, k)
        return F.conv2d(y, rows, self.bias, padding=(0, pad), groups=out)

    def to_dense(self) -> torch.Tensor:
        """Return the equivalent dense kernel, shape ``(out, in, k, k)``."""
        if self.form == "cp":
            return torch.einsum(
                "ori,orp,orq->oipq", self.channel_factor, self.column_factor, self.row_factor
            )
        if self.form == "2way":
            return torch.einsum("oirp,oirq->oipq", self.column_factor, self.row_factor)
        return torch.einsum("rip,orq->oipq", self.column_factor[..., 0], self.row_factor[:, :, 0])

    @classmethod
    def from_dense(
        cls,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        *,
        rank: int | None = None,
        form: str = "cp",
    ) -> CompressedConv2d:
        """Factorise a dense kernel; exact at full rank, truncated below it.

        Parameters
        ----------
        weight : Tensor, shape (out, in, k, k)
            Dense kernel, for example ``nn.Conv2d(...).weight``.
        bias : Tensor, shape (out,), optional
        rank : int, optional
            Rank of the result; defaults to :func:`full_rank`.
        form : {"cp", "2way", "2way-shared"}

        Returns
        -------
        CompressedConv2d
            At full rank its :meth:`to_dense` equals ``weight`` up to rounding.

        Notes
        -----
        The ``2way`` factors come from the singular value decomposition of each 2-way
        kernel, so a truncated rank gives the best approximation in the Frobenius norm.
        The ``2way-shared`` factors come from the SVD of the whole kernel unfolded as
        ``(in * k, out * k)``, which is again the best approximation at a truncated rank.
        The ``cp`` factors come from the SVD of each 3-way kernel unfolded as
        ``(in * k, k)``, whose left singular vectors are again split by an SVD into
        channel and column filters. The terms are kept in order of their singular value
        products, which is a good but not an optimal rank-``R`` approximation.
        """
        out, inp, kh, kw = weight.shape
        if kh != kw:
            raise ValueError(f"weight must have a square kernel, got shape {tuple(weight.shape)}")
        rank = full_rank(form, kh, inp, out) if rank is None else rank
        layer = cls(inp, out, kh, rank=rank, form=form, bias=bias is not None)
        layer = layer.to(dtype=weight.dtype, device=weight.device)
        weight = weight.detach().to(torch.float64)
        with torch.no_grad():
            if form == "2way":
                columns, rows = _split_2way(weight, rank)
                layer.column_factor.copy_(columns)
                layer.row_factor.copy_(rows)
            elif form == "2way-shared":
                columns, rows = _split_2way_shared(weight, rank)
                layer.column_factor.copy_(columns)
                layer.row_factor.copy_(rows)
            else:
                channels, columns, rows = _split_cp(weight, rank)
                layer.channel_factor.copy_(channels)
                layer.column_factor.copy_(columns)
                layer.row_factor.copy_(rows)
            if bias is not None and layer.bias is not None:
                layer.bias.copy_(bias.detach())
        return layer

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"rank={self.rank}, form={self.form!r}, bias={self.bias is not None}"
        )


def _split_2way(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    out, inp, k, _ = weight.shape
    U, S, Vh = torch.linalg.svd(weight)  # batched over (out, in)
    used = min(rank, k)
    root = S[..., :used].sqrt()
    columns = torch.zeros(out, inp, rank, k, dtype=weight.dtype)
    rows = torch.zeros(out, inp, rank, k, dtype=weight.dtype)
    columns[:, :, :used] = (U[..., :used] * root[..., None, :]).transpose(-1, -2)
    rows[:, :, :used] = Vh[..., :used, :] * root[..., :, None]
    return columns, rows


def _split_2way_shared(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    out, inp, k, _ = weight.shape
    # W[o, i, p, q] as a matrix over rows (i, p) and columns (o, q).
    unfolded = weight.permute(1, 2, 0, 3).reshape(inp * k, out * k)
    U, S, Vh = torch.linalg.svd(unfolded, full_matrices=False)
    used = min(rank, S.shape[0])
    root = S[:used].sqrt()
    columns = torch.zeros(rank, inp, k, 1, dtype=weight.dtype)
    rows = torch.zeros(out, rank, 1, k, dtype=weight.dtype)
    columns[:used, :, :, 0] = (U[:, :used] * root).T.reshape(used, inp, k)
    rows[:, :used, 0, :] = (Vh[:used] * root[:, None]).reshape(used, out, k).transpose(0, 1)
    return columns, rows


def _split_cp(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, ...]:
    out, inp, k, _ = weight.shape
    channels = torch.zeros(out, rank, inp, dtype=weight.dtype)
    columns = torch.zeros(out, rank, k, dtype=weight.dtype)
    rows = torch.zeros(out, rank, k, dtype=weight.dtype)
    for o in range(out):
        # W[o] unfolded as (in * k, k): sum_s u_s(i, p) * sigma_s * v_s(q).
        U, S, Vh = torch.linalg.svd(weight[o].reshape(inp * k, k), full_matrices=False)
        terms = []
        for s in range(S.shape[0]):
            # Each u_s as an (in, k) matrix splits into channel and column filters.
            Us, Ss, Vhs = torch.linalg.svd(U[:, s].reshape(inp, k), full_matrices=False)
            for t in range(Ss.shape[0]):
                terms.append((float(S[s] * Ss[t]), Us[:, t] * Ss[t], Vhs[t], Vh[s] * S[s]))
        terms.sort(key=lambda term: -term[0])
        for r, (_, channel, column, row) in enumerate(terms[:rank]):
            channels[o, r], columns[o, r], rows[o, r] = channel, column, row
    return channels, columns, rows


def _check_form(form: str) -> None:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
