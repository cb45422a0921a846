"""diff on models with known differences: tensors only in A or B, changed
shape or dtype, identical tensors, and value differences checked against
numpy (max and mean absolute difference, relative L2 error)."""

import numpy as np
import pytest

import stmodel
from safetensors_dtypes import DTYPE_BITS
from safetensors_writer import write_raw


def write(path, arrays):
    """arrays: name -> (dtype, numpy array or (shape, bytes))."""
    tensors = []
    for name, (dtype, a) in arrays.items():
        if isinstance(a, tuple):
            tensors.append((name, dtype, a[0], a[1]))
        else:
            tensors.append((name, dtype, a.shape, a.tobytes()))
    return stmodel.write_safetensors(path, tensors)


def expect(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    both = np.isfinite(a) & np.isfinite(b)
    d = np.abs(a[both] - b[both])
    return {
        "max_abs_diff": float(d.max()) if d.size else 0.0,
        "mean_abs_diff": float(d.mean()) if d.size else 0.0,
        "rel_l2": float(np.sqrt((d ** 2).sum()) / np.sqrt((a[both] ** 2).sum())),
    }


def bf16(x):
    """float32 -> BF16 bytes by truncation, and the values they hold."""
    u = np.asarray(x, np.float32).view(np.uint32) >> 16
    h = u.astype(np.uint16)
    return h, (h.astype(np.uint32) << 16).view(np.float32)


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((64, 33)).astype(np.float32)
    changed = base.copy()
    changed[3, 4] += 0.5
    changed[10] *= 1.01
    big = rng.standard_normal(2_500_000).astype(np.float32)  # 10 MB: three chunks
    big2 = big.copy()
    big2[::1000] += 1e-3
    nan_a = rng.standard_normal(50).astype(np.float32)
    nan_b = nan_a.copy()
    nan_a[[1, 2]] = np.nan
    nan_b[[2, 3]] = np.nan
    h, hv = bf16(base)
    a = {
        "model.layers.0.same": ("F32", base),
        "model.layers.0.changed": ("F32", base),
        "model.layers.2.only_a": ("F32", base[:2]),
        "model.layers.10.reshaped": ("F32", base),
        "model.layers.10.to_bf16": ("F32", hv.reshape(base.shape)),
        "model.layers.10.to_bf16_lossy": ("F32", base),
        "model.big": ("F32", big),
        "model.nan": ("F32", nan_a),
        "model.complex": ("C64", np.arange(4, dtype=np.complex64)),
        "model.empty": ("F16", np.zeros((0, 3), np.float16)),
    }
    b = {
        "model.layers.0.same": ("F32", base),
        "model.layers.0.changed": ("F32", changed),
        "model.layers.3.only_b": ("I8", np.arange(5, dtype=np.int8)),
        "model.layers.10.reshaped": ("F32", base.reshape(33, 64)),
        "model.layers.10.to_bf16": ("BF16", h.reshape(base.shape)),
        "model.layers.10.to_bf16_lossy": ("BF16", h.reshape(base.shape)),
        "model.big": ("F32", big2),
        "model.nan": ("F32", nan_b),
        "model.complex": ("F32", np.arange(4, dtype=np.float32)),
        "model.empty": ("F16", np.zeros((0, 3), np.float16)),
    }
    pa = write(tmp_path / "a.safetensors", a)
    (tmp_path / "b").mkdir()
    pb = write(tmp_path / "b" / "model.safetensors", b)
    return pa, pb, a, b, {"changed": (base, changed), "big": (big, big2), "lossy": (base, hv),
                          "nan": (nan_a, nan_b)}


def test_diff_json(inspect, pair):
    pa, pb, a, b, arrays = pair
    out = inspect.json("diff", pa, pb.parent)
    rows = {r["name"]: r for r in out["tensors"]}
    assert [r["name"] for r in out["tensors"]] == stmodel.natural_sorted(set(a) | set(b))
    assert rows["model.layers.2.only_a"]["status"] == "only_a"
    assert rows["model.layers.2.only_a"]["shape_a"] == [2, 33] and "dtype_b" not in rows["model.layers.2.only_a"]
    assert rows["model.layers.3.only_b"]["status"] == "only_b"
    assert rows["model.layers.3.only_b"]["dtype_b"] == "I8"
    assert rows["model.layers.10.reshaped"]["status"] == "shape_differs"
    assert rows["model.layers.10.reshaped"]["shape_b"] == [33, 64]
    assert rows["model.complex"]["status"] == "incomparable"
    same = rows["model.layers.0.same"]
    assert same["status"] == "identical" and same["identical"] and same["differing"] == 0
    assert same["max_abs_diff"] == 0 and same["rel_l2"] == 0
    assert rows["model.empty"]["status"] == "identical"
    # Another dtype, the same values: equal, not identical.
    eq = rows["model.layers.10.to_bf16"]
    assert eq["status"] == "equal" and not eq["identical"] and eq["differing"] == 0
    assert (eq["dtype_a"], eq["dtype_b"]) == ("F32", "BF16")
    for name, key in (("model.layers.0.changed", "changed"), ("model.big", "big"),
                      ("model.layers.10.to_bf16_lossy", "lossy"), ("model.nan", "nan")):
        row = rows[name]
        x, y = arrays[key]
        assert row["status"] == "different" and not row["identical"]
        want = expect(x, y)
        assert row["max_abs_diff"] == pytest.approx(want["max_abs_diff"], rel=1e-12)
        assert row["mean_abs_diff"] == pytest.approx(want["mean_abs_diff"], rel=1e-9)
        assert row["rel_l2"] == pytest.approx(want["rel_l2"], rel=1e-9)
        fx, fy = np.asarray(x, np.float64), np.asarray(y, np.float64)
        differ = int(np.sum((fx != fy) & ~(np.isnan(fx) & np.isnan(fy))))
        assert row["differing"] == differ
        assert row["count"] == x.size
    assert rows["model.nan"]["nonfinite_mismatch"] == 2
    assert rows["model.big"]["differing"] == 2500
    assert out["summary"] == {"only_a": 1, "only_b": 1, "shape_differs": 1, "incomparable": 1,
                              "identical": 2, "equal": 1, "different": 4, "dtype_changed": 3}


def test_diff_text(inspect, pair):
    pa, pb, *_ = pair
    lines = inspect.run("diff", pa, pb, check=0).stdout.splitlines()
    marks = {line.split()[1]: line.split()[0] for line in lines[:-1]}
    assert marks == {
        "model.empty": "=", "model.big": "~", "model.complex": "!", "model.nan": "~",
        "model.layers.0.changed": "~", "model.layers.0.same": "=", "model.layers.2.only_a": "-",
        "model.layers.3.only_b": "+", "model.layers.10.reshaped": "!",
        "model.layers.10.to_bf16": "=", "model.layers.10.to_bf16_lossy": "~"}
    text = "\n".join(lines)
    assert "only in A: F32 [2,33]" in text
    assert "shape differs: F32 [64,33] -> F32 [33,64]" in text
    assert "only in B: I8 [5]" in text
    assert "equal values  dtype F32 -> BF16" in text
    assert "(2 NaN/Inf mismatches)" in text
    assert lines[-1].startswith("2 identical, 1 equal values, 4 different, 1 shape differs, "
                                "1 not comparable, 1 only in A, 1 only in B")


def test_diff_globs_and_threads(inspect, pair):
    pa, pb, *_ = pair
    out = inspect.json("diff", pa, pb, "model.layers.0.*", "model.layers.3.*")
    assert [r["name"] for r in out["tensors"]] == [
        "model.layers.0.changed", "model.layers.0.same", "model.layers.3.only_b"]
    one = inspect.run("diff", "--json", "-j", "1", pa, pb, check=0).stdout
    two = inspect.run("diff", "--json", "-j", "4", pa, pb, check=0).stdout
    assert one == two
    p = inspect.run("diff", pa, pb, "nothing*", check=2)
    assert 'no tensor of A or B matches "nothing*"' in p.stderr


def test_diff_a_model_with_itself(inspect, tmp_path):
    rng = np.random.default_rng(2)
    arrays = {f"t{i}": (dt, rng.integers(0, 255, n, dtype=np.uint8))
              for i, (dt, n) in enumerate([("U8", 10), ("F8_E4M3", 100), ("F4", 50), ("F6_E2M3", 30)])}
    p = write(tmp_path / "m.safetensors", {k: (dt, ((a.size * 8 // DTYPE_BITS[dt],), a.tobytes()))
                                           for k, (dt, a) in arrays.items()})
    out = inspect.json("diff", p, p)
    assert all(r["status"] == "identical" for r in out["tensors"])
    assert out["summary"]["identical"] == 4


def test_diff_errors(inspect, tmp_path, pair):
    pa, *_ = pair
    inspect.run("diff", pa, check=2)
    p = inspect.run("diff", pa, tmp_path / "missing", check=3)
    assert "missing" in p.stderr
    bad = write_raw(tmp_path / "bad.safetensors", "{}", header_len=100)
    inspect.run("diff", bad, pa, check=4)
