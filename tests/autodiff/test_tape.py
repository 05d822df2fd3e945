"""GradientTape semantics, as TensorFlow documents them."""

import numpy as np
import pytest

import dtf


def test_records_only_while_open():
    x = dtf.constant(3.0)
    y_before = x * x
    with dtf.GradientTape() as tape:
        tape.watch(x)
        z = x * 2.0
    outside = z * x  # after the block: not recorded
    assert tape.gradient(outside, x) is None
    assert y_before is not None


def test_trainable_variables_are_watched_automatically():
    w = dtf.Variable(1.0)
    frozen = dtf.Variable(1.0, trainable=False)
    with dtf.GradientTape() as tape:
        loss = 4 * w + w ** 3 + frozen * w
    gw, gf = tape.gradient(loss, [w, frozen])
    assert float(gw) == 8.0 and gf is None
    assert tape.watched_variables() == (w,)


def test_watch_accessed_variables_false():
    a, b = dtf.Variable(2.0), dtf.Variable(3.0)
    with dtf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(a)
        y = a * b
    ga, gb = tape.gradient(y, [a, b])
    assert float(ga) == 3.0 and gb is None


def test_non_persistent_tape_is_single_use():
    x = dtf.constant(2.0)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(y, x)


def test_persistent_tape_and_intermediate_sources():
    w1 = dtf.Variable([1.0, -3.0])
    with dtf.GradientTape(persistent=True) as g:
        w2 = 2 * w1
        loss = w2 ** 2
    assert g.gradient(w2, w1).numpy().tolist() == [2.0, 2.0]
    assert g.gradient(loss, w2).numpy().tolist() == [4.0, -12.0]
    assert g.gradient(loss, w1).numpy().tolist() == [8.0, -24.0]


def test_gradient_inside_the_with_block():
    x = dtf.Variable(3.0)
    with dtf.GradientTape() as tape:
        y = x * x
        g = tape.gradient(y, x)
    assert float(g) == 6.0


def test_nested_tapes_give_higher_order_derivatives():
    x = dtf.Variable(2.0)
    with dtf.GradientTape() as t3:
        with dtf.GradientTape() as t2:
            with dtf.GradientTape() as t1:
                y = x ** 3
            dy = t1.gradient(y, x)
        d2y = t2.gradient(dy, x)
    d3y = t3.gradient(d2y, x)
    assert (float(dy), float(d2y), float(d3y)) == (12.0, 12.0, 6.0)


def test_unconnected_sources_none_or_zero():
    x, u = dtf.Variable(1.0), dtf.Variable([1.0, 2.0])
    with dtf.GradientTape(persistent=True) as tape:
        y = x * 2
    assert tape.gradient(y, u) is None
    assert tape.gradient(y, u, unconnected_gradients="zero").numpy().tolist() == [0.0, 0.0]
    assert tape.gradient(y, u, unconnected_gradients=dtf.UnconnectedGradients.ZERO) is not None


def test_list_targets_are_summed_and_structures_are_kept():
    w = dtf.Variable(-1.0)
    with dtf.GradientTape(persistent=True) as g:
        targets = [2 * w, w ** 4]
        d = {"a": 3 * w, "b": [w * w]}
    assert float(g.gradient(targets, w)) == -2.0
    out = g.gradient(d, {"x": w, "y": [w]})
    assert set(out) == {"x", "y"} and float(out["x"]) == 1.0 and float(out["y"][0]) == 1.0


def test_output_gradients_weight_the_targets():
    x = dtf.constant([1.0, 2.0])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=dtf.constant([10.0, 1.0]))
    assert g.numpy().tolist() == [20.0, 4.0]


def test_integer_values_get_no_gradient():
    x = dtf.constant(2)
    with dtf.GradientTape() as tape:
        with pytest.warns(UserWarning, match="floating"):
            tape.watch(x)
        y = x * x
    assert tape.gradient(y, x) is None


def test_none_target_is_a_type_error():
    a = dtf.random.normal(shape=(2, 2)) if hasattr(dtf.random, "normal") else dtf.ones((2, 2))
    b = dtf.ones((2, 2))
    with dtf.GradientTape() as outer:
        with dtf.GradientTape() as tape:
            c = dtf.sqrt(dtf.square(a) + dtf.square(b))
            dc_da = tape.gradient(c, a)  # `a` is a plain tensor nobody watched
        assert dc_da is None
        with pytest.raises(TypeError):
            outer.gradient(dc_da, a)


def test_jacobian_and_batch_jacobian():
    x = dtf.constant([[1.0, 2.0], [3.0, 4.0]])
    with dtf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    jac = tape.jacobian(y, x)
    assert jac.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(jac.numpy().reshape(4, 4), np.diag([2.0, 4.0, 6.0, 8.0]))
    bj = tape.batch_jacobian(y, x)
    assert bj.shape == (2, 2, 2)
    np.testing.assert_allclose(bj.numpy(), [[[2, 0], [0, 4]], [[6, 0], [0, 8]]])
    w = dtf.Variable([1.0, 2.0, 3.0])
    with dtf.GradientTape() as t2:
        z = w[:2] * 5.0
    np.testing.assert_allclose(t2.jacobian(z, w).numpy(), [[5, 0, 0], [0, 5, 0]])


def test_custom_gradient_log1pexp():
    @dtf.custom_gradient
    def log1pexp(x):
        e = dtf.exp(x)

        def grad(upstream):
            return upstream * (1 - 1 / (1 + e))

        return dtf.math.log(1 + e), grad

    x = dtf.constant(100.0)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert float(tape.gradient(y, x)) == 1.0  # the naive gradient would be nan
    assert float(log1pexp(dtf.constant(0.0))) == pytest.approx(np.log(2.0))


def test_custom_gradient_with_variables():
    v = dtf.Variable(2.0)

    @dtf.custom_gradient
    def scale(x):
        def grad(dy, variables=None):
            return dy * 100.0, [dy * 7.0]

        return x * v, grad

    x = dtf.constant(3.0)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = scale(x)
    gx, gv = tape.gradient(y, [x, v])
    assert float(gx) == 100.0 and float(gv) == 7.0


def test_stop_gradient_blocks_flow():
    x = dtf.Variable(3.0)
    with dtf.GradientTape() as tape:
        y = dtf.stop_gradient(x * x) + x
    assert float(tape.gradient(y, x)) == 1.0


def test_gradient_through_variable_slice_and_reads():
    v = dtf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with dtf.GradientTape() as tape:
        y = v[0, 1] * 3.0 + dtf.reduce_sum(v)
    assert tape.gradient(y, v).numpy().tolist() == [[1.0, 4.0], [1.0, 1.0]]


def test_backward_pass_has_no_recursion_limit():
    x = dtf.constant(1.0)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(5000):  # deeper than Python's default recursion limit
            y = y * 1.0001
    assert float(tape.gradient(y, x)) == pytest.approx(1.0001 ** 5000, rel=1e-3)


def test_tape_stop_recording_and_reset():
    x = dtf.Variable(2.0)
    with dtf.GradientTape(persistent=True) as tape:
        with tape.stop_recording():
            ignored = x * x
        y = x * 3.0
    assert tape.gradient(ignored, x) is None and float(tape.gradient(y, x)) == 3.0
    tape.reset()
    assert tape.gradient(y, x) is None


def test_sources_must_be_tensors():
    x = dtf.Variable(1.0)
    with dtf.GradientTape() as tape:
        y = x * 2
    with pytest.raises(ValueError, match="Tensors or Variables"):
        tape.gradient(y, [1.0])


def test_unwatched_sources_get_none_even_when_used():
    w1 = dtf.Variable(1.0)
    c1 = dtf.constant(-2.0)
    c2 = dtf.Variable(-1.0, trainable=False)
    with dtf.GradientTape() as g:
        loss = (w1 + c1) ** 2 + c2 ** 3
    gw, gc1, gc2 = g.gradient(loss, [w1, c1, c2])
    assert float(gw) == -2.0 and gc1 is None and gc2 is None


def test_tapes_belong_to_their_thread():
    import threading

    x = dtf.Variable(2.0)
    barrier = threading.Barrier(2)
    results = {}

    def worker(name, scale):
        with dtf.GradientTape(persistent=True) as tape:
            barrier.wait()  # both tapes are open at once
            y = x * scale
            barrier.wait()
        # only this thread's read of x and its multiply were recorded
        results[name] = (float(tape.gradient(y, x)), len(tape._entries))

    threads = [threading.Thread(target=worker, args=(n, s)) for n, s in [("a", 3.0), ("b", 5.0)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"a": (3.0, 2), "b": (5.0, 2)}
    with dtf.GradientTape() as main_tape:
        y = x * 7.0
    assert float(main_tape.gradient(y, x)) == 7.0


def test_jacobian_none_only_for_unconnected_sources():
    x = dtf.Variable([1.0, 2.0])
    u = dtf.Variable([3.0])
    with dtf.GradientTape(persistent=True) as tape:
        y = x * 0.0  # connected, with a zero Jacobian
    jx, ju = tape.jacobian(y, [x, u])
    assert jx.numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]] and ju is None
    assert tape.jacobian(y, u, unconnected_gradients="zero").shape == (2, 1)
    b = dtf.constant([[1.0, 2.0]])
    with dtf.GradientTape(persistent=True) as t2:
        t2.watch(b)
        z = b * 0.0
    assert t2.batch_jacobian(z, b).numpy().tolist() == [[[0.0, 0.0], [0.0, 0.0]]]
    assert t2.batch_jacobian(z, dtf.constant([[5.0, 6.0]])) is None
