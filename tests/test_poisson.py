"""The FEniCSx Poisson problems: convergence rates, exact recovery, boundaries and obstacles."""

import numpy as np
import pytest

from neurosolve import problems, solve


def l2_error(problem, x, exact) -> float:
    """L2 norm of ``u_h - exact`` over the mesh, with ``exact`` interpolated as P3."""
    import ufl
    from dolfinx import fem

    V = problem.function_space
    u_h = fem.Function(V)
    u_h.x.array[:] = problem.to_space(x)
    W = fem.functionspace(V.mesh, ("Lagrange", 3))
    u_exact = fem.Function(W)
    u_exact.interpolate(exact)
    square = fem.assemble_scalar(fem.form((u_h - u_exact) ** 2 * ufl.dx))
    return float(np.sqrt(square))


def fitted_slope(sizes, errors) -> float:
    h = 1.0 / (np.asarray(sizes) - 1)
    return float(np.polyfit(np.log(h), np.log(errors), 1)[0])


@pytest.mark.parametrize(("axes", "sizes"), [(2, (9, 17, 33)), (3, (9, 17, 25))])
def test_manufactured_error_is_second_order(axes, sizes):
    def exact(x):
        return np.prod([np.sin(np.pi * x[i]) for i in range(axes)], axis=0)

    def source(x):
        return axes * np.pi**2 * exact(x)

    errors = []
    for n in sizes:
        problem = problems.poisson(shape=(n,) * axes, source=source)
        result = solve(problem, "direct", rtol=1e-12)
        errors.append(l2_error(problem, result.x, exact))
    slope = fitted_slope(sizes, errors)
    assert abs(slope - 2.0) <= 0.1, f"errors {errors}, slope {slope:.3f}"


def test_linear_solution_recovered_exactly():
    # u = 1 + 2x + 3y is in the P1 space: Dirichlet on three sides, flux du/dy = 3 on ymax.
    def exact(x):
        return 1.0 + 2.0 * x[0] + 3.0 * x[1]

    problem = problems.poisson(
        shape=(7, 9), source=0.0, dirichlet={"xmin": exact, "xmax": exact, "ymin": exact},
        neumann={"ymax": 3.0},
    )
    u = problem.to_grid(solve(problem, "direct", rtol=1e-12).x)
    y, x = np.meshgrid(np.linspace(0, 1, 7), np.linspace(0, 1, 9), indexing="ij")
    np.testing.assert_allclose(u, 1.0 + 2.0 * x + 3.0 * y, atol=1e-10)


def test_point_coefficient_recovers_linear():
    # -d/dx((1 + x) du/dx) = -1 has the solution u = x, which P1 represents exactly.
    n = 9
    x = np.broadcast_to(np.linspace(0, 1, n), (n, n))
    problem = problems.poisson(
        shape=(n, n), coefficient=1.0 + x, source=-1.0, dirichlet={"xmin": 0.0, "xmax": 1.0}
    )
    u = problem.to_grid(solve(problem, "direct", rtol=1e-12).x)
    np.testing.assert_allclose(u, x, atol=1e-10)


def test_cell_coefficient_gives_kinked_profile():
    # k = 1 left of x = 1/2 and 9 right of it: the flux k du/dx is continuous, so the
    # slopes are 1.8 and 0.2 and u(1/2) = 0.9.
    n = 9
    k = np.ones((n - 1, n - 1))
    k[:, (n - 1) // 2:] = 9.0
    problem = problems.poisson(
        shape=(n, n), coefficient=k, source=0.0, dirichlet={"xmin": 0.0, "xmax": 1.0}
    )
    u = problem.to_grid(solve(problem, "direct", rtol=1e-12).x)
    x = np.linspace(0, 1, n)
    expected = np.where(x <= 0.5, 1.8 * x, 0.9 + 0.2 * (x - 0.5))
    np.testing.assert_allclose(u, np.broadcast_to(expected, (n, n)), atol=1e-10)


def test_geometry_maps_unknowns_to_grid():
    problem = problems.poisson(shape=(6, 5))
    geometry = problem.geometry
    assert geometry.shape == (6, 5)
    assert problem.n == 4 * 3
    assert geometry.free.sum() == problem.n
    np.testing.assert_array_equal(np.flatnonzero(geometry.free), geometry.dof_to_grid)
    assert problem.spd is True
    assert abs(problem.A - problem.A.T).max() == 0.0


def test_matrix_is_positive_definite():
    problem = problems.poisson(shape=(6, 6), obstacles=np.eye(5, dtype=bool), neumann={"ymax": 1})
    eigenvalues = np.linalg.eigvalsh(problem.A.toarray())
    assert eigenvalues.min() > 0


def test_obstacle_removes_inner_points():
    mask = np.zeros((9, 9), dtype=bool)
    mask[3:6, 3:6] = True
    problem = problems.poisson(shape=(10, 10), obstacles=mask)
    free = problem.geometry.free
    # 8 x 8 interior points, minus the 2 x 2 points that touch only obstacle cells.
    assert problem.n == 64 - 4
    assert not free[4:6, 4:6].any()
    assert free[3, 3:7].all()
    np.testing.assert_array_equal(problem.geometry.cell_mask, ~mask)


def test_obstacle_walls_are_insulated():
    # With u = 0 on xmin, u = 1 on xmax and no source, a slab of obstacle cells from
    # xmin to xmax splits the square into two channels whose walls do not disturb u = x.
    n = 9
    mask = np.zeros((n - 1, n - 1), dtype=bool)
    mask[3:5, :] = True
    problem = problems.poisson(
        shape=(n, n), source=0.0, obstacles=mask, dirichlet={"xmin": 0.0, "xmax": 1.0}
    )
    u = problem.to_grid(solve(problem, "direct", rtol=1e-12).x)
    x = np.broadcast_to(np.linspace(0, 1, n), (n, n))
    np.testing.assert_allclose(u[problem.geometry.free], x[problem.geometry.free], atol=1e-10)


def test_random_obstacles_repeat_with_seed():
    first = problems.poisson(shape=(33, 33), obstacles=6, seed=3)
    second = problems.poisson(shape=(33, 33), obstacles=6, seed=3)
    other = problems.poisson(shape=(33, 33), obstacles=6, seed=4)
    np.testing.assert_array_equal(first.geometry.cell_mask, second.geometry.cell_mask)
    assert not np.array_equal(first.geometry.cell_mask, other.geometry.cell_mask)
    assert (~first.geometry.cell_mask).sum() > 0
    assert solve(first, "direct", rtol=1e-10).converged


def test_enclosed_pocket_is_rejected():
    mask = np.zeros((9, 9), dtype=bool)
    mask[2:7, 2:7] = True
    mask[4, 4] = False  # one domain cell walled in by obstacle cells
    with pytest.raises(ValueError, match="touch no Dirichlet boundary"):
        problems.poisson(shape=(10, 10), obstacles=mask)


def test_to_grid_fills_dirichlet_values():
    problem = problems.poisson(shape=(5, 5), dirichlet={"all": 0.0, "ymax": 2.0})
    u = problem.to_grid(np.zeros(problem.n))
    np.testing.assert_array_equal(u[-1], np.full(5, 2.0))
    assert u[0].sum() == 0.0


def test_provenance_records_settings():
    problem = problems.poisson(shape=(9, 9), obstacles=2, seed=7)
    assert problem.provenance["shape"] == [9, 9]
    assert problem.provenance["obstacles"] == 2
    assert problem.provenance["seed"] == 7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape": (2, 2)}, "at least 3"),
        ({"shape": (5, 5, 5, 5)}, "2 or 3 axes"),
        ({"shape": (16.5, 16)}, "tuple of integers"),
        ({"shape": 16}, "tuple of integers"),
        ({"shape": (5, 5), "obstacles": np.zeros((5, 5), bool)}, "expected \\(4, 4\\)"),
        ({"shape": (5, 5), "coefficient": -1.0}, "positive"),
        ({"shape": (5, 5), "coefficient": np.ones((3, 3))}, "coefficient array has shape"),
        ({"shape": (5, 5), "source": np.full((5, 5), np.nan)}, "NaN"),
        ({"shape": (5, 5), "dirichlet": {"left": 0.0}}, "unknown boundary part 'left'"),
        ({"shape": (5, 5), "dirichlet": []}, "singular"),
        ({"shape": (5, 5), "dirichlet": ["xmin"], "neumann": {"xmin": 1}}, "both dirichlet"),
        ({"shape": (5, 5), "neumann": {"xmin": 0, "xmax": 0, "ymin": 0, "ymax": 0}}, "singular"),
        ({}, "exactly one of shape"),
    ],
)
def test_invalid_settings_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        problems.poisson(**kwargs)


def test_disk_mesh_converges_to_paraboloid():
    # -laplace(u) = 4 on the unit disc with u = 0 on its edge has u = 1 - r^2.
    errors = []
    for resolution in (0.2, 0.1):
        problem = problems.poisson(mesh="unit-disk", resolution=resolution, source=4.0)
        result = solve(problem, "direct", rtol=1e-12)
        errors.append(l2_error(problem, result.x, lambda x: 1.0 - x[0] ** 2 - x[1] ** 2))
    assert errors[1] < errors[0] / 3.0, errors
    assert errors[1] < 1e-2


def test_plate_with_holes_obeys_maximum_principle():
    problem = problems.poisson(
        mesh="plate-with-holes", resolution=0.08, source=0.0,
        dirichlet={"outer": 0.0, "holes": 1.0},
    )
    assert problem.geometry is None
    u = problem.to_space(solve(problem, "pcg-amg", rtol=1e-10).x)
    assert u.min() >= -1e-9
    assert u.max() <= 1.0 + 1e-9
    assert 0.1 < u.mean() < 0.9


def test_unknown_mesh_name_rejected():
    with pytest.raises(ValueError, match="valid names are: plate-with-holes"):
        problems.poisson(mesh="no-such-mesh")
