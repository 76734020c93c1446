"""Saliency metrics: hand-computed cases, agreement with pysaliency, invariances, edge cases, batching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gazelab.analysis import metrics as M
from gazelab.errors import ParameterError
from gazelab.preprocessing.maps import fixation_map

DATA = Path(__file__).parent / "data" / "pysaliency_reference.npz"


@pytest.fixture(scope="module")
def ref():
    d = np.load(DATA)
    maps, x, y, n = d["maps"], d["x"], d["y"], d["n"]
    h, w = maps.shape[1:]
    out = {k: d[k] for k in d.files}
    out["counts"] = np.stack([fixation_map(x[n == i], y[n == i], (h, w)) for i in range(len(maps))])
    out["others"] = np.stack([fixation_map(x[n != i], y[n != i], (h, w)) for i in range(len(maps))])
    out["meta"] = json.loads(str(d["meta"]))
    return out


def _rand(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, shape)


def _counts(shape, n, seed=1):
    rng = np.random.default_rng(seed)
    c = np.zeros(shape)
    flat = c.reshape(-1, shape[-2] * shape[-1]) if len(shape) == 3 else c.reshape(1, -1)
    for row in flat:
        np.add.at(row, rng.integers(0, row.size, n), 1.0)
    return c


# ---------------------------------------------------------------------------------- the peer
PEER = {
    # our call, reference key
    "nss": (lambda r: M.nss(r["maps"], r["counts"], convention="pysaliency"), "ref_nss"),
    "cc": (lambda r: M.cc(r["maps"], r["references"]), "ref_cc"),
    "sim": (lambda r: M.sim(r["maps"], r["references"], convention="pysaliency"), "ref_sim"),
    "kld_mit": (lambda r: M.kld(r["maps"], r["references"]), "ref_kld_mit"),
    "kld_pysaliency": (lambda r: M.kld(r["maps"], r["references"], convention="pysaliency"), "ref_kld_pysaliency"),
    "auc_judd": (lambda r: M.auc_judd(r["maps"], r["counts"], convention="pysaliency", jitter=False), "ref_auc_judd"),
    "auc_shuffled": (
        lambda r: M.auc_shuffled(r["maps"], r["counts"], r["others"], convention="pysaliency"),
        "ref_auc_shuffled",
    ),
    "information_gain": (
        lambda r: M.information_gain(
            r["density"], r["counts"], np.repeat(r["baseline"][None], len(r["maps"]), 0), convention="pysaliency"
        ),
        "ref_information_gain",
    ),
}


@pytest.mark.parametrize("name", sorted(PEER))
def test_agrees_with_pysaliency(ref, name):
    fn, key = PEER[name]
    ours = fn(ref)
    assert ours.shape == ref[key].shape
    np.testing.assert_allclose(ours, ref[key], atol=1e-4, rtol=0)
    assert ref["meta"]["pysaliency"] == "0.2.22"


def test_auc_judd_jitter_agrees_with_pysaliency_where_there_are_no_ties(ref):
    ours = M.auc_judd(ref["maps"], ref["counts"], convention="pysaliency")
    no_ties = [0, 2, 3, 4]  # map 1 is 60 % exact zeros: both break those ties at random, differently
    np.testing.assert_allclose(ours[no_ties], ref["ref_auc_judd_jitter"][no_ties], atol=1e-4, rtol=0)
    # 10 of its 15 fixations sit on zeros: random tie-breaking scatters the score (sd about 0.035
    # per draw here), so the two tools agree only statistically on it
    assert abs(ours[1] - ref["ref_auc_judd_jitter"][1]) < 0.15


def test_conventions_really_differ_on_the_peer_inputs(ref):
    # the reference maps were chosen to show each difference: duplicates, positive minimum, zeros
    assert abs(M.nss(ref["maps"], ref["counts"])[0] - ref["ref_nss"][0]) > 1e-3
    assert abs(M.sim(ref["maps"], ref["references"])[3] - ref["ref_sim"][3]) > 1e-3
    assert abs(M.kld(ref["maps"], ref["references"])[1] - ref["ref_kld_pysaliency"][1]) > 1.0


# ---------------------------------------------------------------------------------- hand cases
S = np.array([[0.0, 1.0], [2.0, 3.0]])


def test_nss_by_hand():
    sd1 = np.std([0, 1, 2, 3], ddof=1)
    sd0 = np.std([0, 1, 2, 3])
    fix = np.array([[0, 0], [1, 2]])  # pixel (1,1) fixated twice
    assert M.nss(S, fix) == pytest.approx(((2 - 1.5) + (3 - 1.5)) / 2 / sd1)
    assert M.nss(S, fix, convention="pysaliency") == pytest.approx(((2 - 1.5) + 2 * (3 - 1.5)) / 3 / sd0)


def test_cc_kld_sim_by_hand():
    p = np.array([[1.0, 2.0, 3.0]])
    g = np.array([[0.0, 1.0, 3.0]])
    assert M.cc(p, g) == pytest.approx(np.corrcoef(p.ravel(), g.ravel())[0, 1])
    ph, gh = p / 6, g / 4
    eps = 2.2204e-16
    assert M.kld(p, g) == pytest.approx(np.sum(gh * np.log(eps + gh / (ph + eps))))
    # MIT SIM: min-max first ([0, .5, 1] and [0, 1/3, 1]), then sum-normalise
    a, b = np.array([0, 0.5, 1]) / 1.5, np.array([0, 1 / 3, 1]) / (4 / 3)
    assert M.sim(p, g) == pytest.approx(np.minimum(a, b).sum())
    assert M.sim(p, g, convention="pysaliency") == pytest.approx(np.minimum(ph, gh).sum())


def test_auc_judd_by_hand_and_duplicates():
    s = np.array([[0.1, 0.5, 0.9, 0.3, 0.7]])
    fix = np.array([[0, 2, 0, 0, 1]])  # 0.5 twice, 0.7 once; unfixated 0.1, 0.9, 0.3
    # MIT (each pixel once): thresholds .7 -> (tp .5, fp 1/3), .5 -> (1, 1/3)
    mit = 0.5 * (1 / 3) * 0.5 + 0 + (2 / 3) * 1.0
    assert M.auc_judd(s, fix, jitter=False) == pytest.approx(mit)
    # pysaliency (every fixation): .7 -> tp 1/3
    pys = 0.5 * (1 / 3) * (1 / 3) + (2 / 3) * 1.0
    assert M.auc_judd(s, fix, jitter=False, convention="pysaliency") == pytest.approx(pys)
    assert M.auc_judd(s, fix) == pytest.approx(mit, abs=1e-12)  # no ties: jitter changes nothing


def test_auc_borji_and_shuffled_by_hand():
    s = np.zeros((20, 20))
    s[2, 3] = 1.0
    s[5, 5] = 0.95
    fix = np.zeros((20, 20))
    fix[2, 3] = fix[5, 5] = 1
    # negatives are almost always 0: each split scores 1 unless it hits the two peaks
    assert M.auc_borji(s, fix) > 0.99
    other = np.zeros((20, 20))
    other[0, 0] = other[10, 10] = other[15, 2] = 1  # all 0 -> every split: tp 1, fp 0 above 0
    assert M.auc_shuffled(s, fix, other) == pytest.approx(1.0)
    assert M.auc_shuffled(s, fix, other, convention="pysaliency") == pytest.approx(1.0)
    # fixations on the same pixels as the negatives: chance
    assert M.auc_shuffled(s, fix, fix, convention="pysaliency") == pytest.approx(0.5)
    assert M.auc_shuffled(s, fix, fix) == pytest.approx(0.5, abs=0.1)


def test_information_gain_and_emd_and_iou_by_hand():
    s = np.array([[1.0, 3.0, 0.0, 0.0]])
    base = np.ones((1, 4))
    fix = np.array([[1, 1, 0, 0]])
    want = (np.log2(0.25 / 0.25) + np.log2(0.75 / 0.25)) / 2
    assert M.information_gain(s, fix, base) == pytest.approx(want)
    a = np.array([[1.0, 0.0, 0.0, 1.0]])
    g = np.array([[0.0, 1.0, 1.0, 0.0]])
    assert M.emd(a, g, downsample=1) == pytest.approx(1.0)  # each half moves 1 px
    two_d = np.zeros((3, 4))
    two_d[0, 0] = 1
    other = np.zeros((3, 4))
    other[2, 3] = 1
    assert M.emd(two_d, other, downsample=1) == pytest.approx(np.hypot(2, 3))
    assert M.emd(two_d, two_d, downsample=1) == pytest.approx(0.0, abs=1e-12)
    assert M.iou_topk(np.arange(10.0)[None], np.arange(10.0)[None], k_percent=30) == 1.0
    assert M.iou_topk(np.arange(10.0)[None], -np.arange(10.0)[None], k_percent=30) == 0.0


def test_emd_downsamples_like_mit():
    rng = np.random.default_rng(3)
    p, g = rng.uniform(0, 1, (64, 96)), rng.uniform(0, 1, (64, 96))
    v = M.emd(p, g)  # 2 x 3 cells
    assert 0 < v < np.hypot(1, 2)


# ---------------------------------------------------------------------------------- invariances
def test_invariances():
    p, g = _rand((30, 40), 4), _rand((30, 40), 5)
    fix = _counts((30, 40), 12)
    for a, b in [(3.0, 0.0), (0.01, 5.0)]:
        assert M.nss(a * p + b, fix) == pytest.approx(M.nss(p, fix))
        assert M.cc(a * p + b, g) == pytest.approx(M.cc(p, g))
        assert M.auc_judd(a * p + b, fix) == pytest.approx(M.auc_judd(p, fix))
        assert M.sim(a * p + b, g) == pytest.approx(M.sim(p, g))  # MIT: min-max first
    assert M.kld(7 * p, 0.3 * g) == pytest.approx(M.kld(p, g))
    assert M.information_gain(5 * p, fix, 2 * g) == pytest.approx(M.information_gain(p, fix, g))
    assert M.auc_judd(p**3, fix) == pytest.approx(M.auc_judd(p, fix))  # monotone: same ranking
    assert M.kld(g, g) == pytest.approx(0.0, abs=1e-12)
    assert M.sim(g, g) == pytest.approx(1.0)
    assert M.cc(g, g) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------- edge cases
def test_constant_map_scores_chance():
    fix = _counts((10, 12), 5)
    const = np.full((10, 12), 0.3)
    assert M.nss(const, fix) == 0.0
    assert M.nss(const, fix, convention="pysaliency") == 0.0
    assert M.cc(const, _rand((10, 12))) == 0.0
    assert M.auc_judd(const, fix, jitter=False) == pytest.approx(0.5)
    assert M.information_gain(const, fix, np.ones((10, 12))) == pytest.approx(0.0)
    assert M.sim(np.zeros((10, 12)), np.ones((10, 12)), convention="pysaliency") == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["nss", "auc_judd", "auc_borji", "auc_shuffled", "information_gain"])
def test_empty_fixations_raise_naming_the_argument(name):
    spec = M.METRICS[name]
    s = _rand((2, 8, 9))
    empty = _counts((2, 8, 9), 3)
    empty[1] = 0
    extra = {"fixations+others": (_counts((2, 8, 9), 4),), "fixations+baseline": (np.ones((2, 8, 9)),)}
    with pytest.raises(ParameterError, match=r"fixations.*map\(s\) \[1\]"):
        spec.function(s, empty, *extra.get(spec.needs, ()))
    with pytest.raises(ParameterError, match="fixations"):
        spec.function(s[0], np.zeros((0, 2)), *(e[0] for e in extra.get(spec.needs, ())))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ParameterError, match=r"reference: \(8, 9\).*\(8, 10\)"):
        M.cc(_rand((8, 10)), _rand((8, 9)))
    with pytest.raises(ParameterError, match=r"fixations.*\(3, 8, 10\)"):
        M.nss(_rand((3, 8, 10)), _counts((2, 8, 10), 3))
    with pytest.raises(ParameterError, match="saliency"):
        M.nss(np.zeros(5), np.zeros(5))


def test_other_errors():
    s, fix = _rand((6, 7)), _counts((6, 7), 3)
    with pytest.raises(ParameterError, match="convention"):
        M.nss(s, fix, convention="matlab")
    with pytest.raises(ParameterError, match="counts >= 0"):
        M.nss(s, -fix)
    with pytest.raises(ParameterError, match=r"reference.*constant"):
        M.cc(s, np.ones((6, 7)))
    with pytest.raises(ParameterError, match=r"reference.*all zero"):
        M.kld(s, np.zeros((6, 7)))
    with pytest.raises(ParameterError, match="k_percent"):
        M.iou_topk(s, s, k_percent=0)
    with pytest.raises(ParameterError, match="n_splits"):
        M.auc_borji(s, fix, n_splits=0)


def test_registry_refuses_duplicates_and_lists_everything():
    assert set(M.METRICS) == {
        "nss",
        "auc_judd",
        "auc_borji",
        "auc_shuffled",
        "information_gain",
        "cc",
        "kld",
        "sim",
        "emd",
        "iou_topk",
    }
    with pytest.raises(ParameterError, match=r"already registered|not yet registered"):
        M.register_metric("nss", needs="fixations")(lambda s, f: 0.0)
    assert M.METRICS["nss"].function is M.nss
    assert not M.METRICS["kld"].higher_is_better and not M.METRICS["emd"].higher_is_better


def _call(spec, s, fix, ref, other, base):
    return {
        "fixations": lambda: spec.function(s, fix),
        "map": lambda: spec.function(s, ref),
        "fixations+others": lambda: spec.function(s, fix, other),
        "fixations+baseline": lambda: spec.function(s, fix, base),
    }[spec.needs]()


@pytest.mark.parametrize("name", sorted(M.METRICS))
def test_batched_equals_single_and_types(name):
    spec = M.METRICS[name]
    shape = (3, 33, 40)
    s, ref, base = _rand(shape, 1), _rand(shape, 2) ** 4, _rand(shape, 3) + 0.1
    fix, other = _counts(shape, 9, 4), _counts(shape, 30, 5)
    batch = _call(spec, s, fix, ref, other, base)
    assert isinstance(batch, np.ndarray) and batch.shape == (3,) and np.isfinite(batch).all()
    for i in range(3):
        single = _call(spec, s[i], fix[i], ref[i], other[i], base[i])
        assert isinstance(single, float)
        assert single == pytest.approx(batch[i], abs=1e-9)
    t = _call(spec, *(torch.from_numpy(a) for a in (s, fix, ref, other, base)))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    np.testing.assert_allclose(t.numpy(), batch, atol=1e-9)
    t32 = _call(spec, *(torch.from_numpy(a).float()[:, None] for a in (s, fix, ref, other, base)))
    assert t32.dtype == torch.float32
    np.testing.assert_allclose(t32.numpy(), batch, atol=1e-4 if name != "emd" else 1e-3)


def test_points_equal_count_maps():
    rng = np.random.default_rng(9)
    pts = np.c_[rng.uniform(-5, 45, 25), rng.uniform(-5, 35, 25)]  # some outside: dropped
    s = _rand((30, 40), 8)
    counts = fixation_map(pts[:, 0], pts[:, 1], (30, 40))
    for fn in (M.nss, M.auc_judd, M.auc_borji):
        assert fn(s, pts) == pytest.approx(fn(s, counts))
    assert M.nss(s, torch.from_numpy(pts), convention="pysaliency") == pytest.approx(
        M.nss(s, counts, convention="pysaliency")
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_matches_cpu():  # pragma: no cover - runs where a GPU exists
    shape = (4, 48, 64)
    s, ref, base = _rand(shape, 1), _rand(shape, 2) ** 4, _rand(shape, 3) + 0.1
    fix, other = _counts(shape, 9, 4), _counts(shape, 30, 5)
    for name, spec in M.METRICS.items():
        cpu = _call(spec, s, fix, ref, other, base)
        gpu = _call(spec, *(torch.from_numpy(a).cuda() for a in (s, fix, ref, other, base)))
        assert gpu.device.type == "cuda"
        if name not in ("auc_borji", "auc_shuffled", "auc_judd"):  # random streams differ per device
            np.testing.assert_allclose(gpu.cpu().numpy(), cpu, atol=1e-9, err_msg=name)


def test_batch_points_list_and_nan_padded_equal_count_maps():
    rng = np.random.default_rng(11)
    shape = (3, 40, 50)
    s, base = _rand(shape, 12), _rand(shape, 13) + 0.1
    pts = [np.c_[rng.uniform(0, 50, n), rng.uniform(0, 40, n)] for n in (5, 9, 2)]
    others = [np.c_[rng.uniform(0, 50, 30), rng.uniform(0, 40, 30)] for _ in range(3)]
    counts = np.stack([fixation_map(p[:, 0], p[:, 1], shape[1:]) for p in pts])
    ocounts = np.stack([fixation_map(p[:, 0], p[:, 1], shape[1:]) for p in others])
    padded = torch.full((3, 9, 2), float("nan"), dtype=torch.float64)  # collate_gaze's layout
    for i, p in enumerate(pts):
        padded[i, : len(p)] = torch.from_numpy(p)
    for conv in ("mit", "pysaliency"):
        want = M.nss(s, counts, convention=conv)
        np.testing.assert_allclose(M.nss(s, pts, convention=conv), want, atol=1e-12)
        np.testing.assert_allclose(M.nss(torch.from_numpy(s), padded, convention=conv).numpy(), want, atol=1e-12)
        np.testing.assert_allclose(
            M.auc_judd(s, pts, convention=conv), M.auc_judd(s, counts, convention=conv), atol=1e-12
        )
        np.testing.assert_allclose(
            M.auc_shuffled(s, pts, others, convention=conv),
            M.auc_shuffled(s, counts, ocounts, convention=conv),
            atol=1e-12,
        )
        np.testing.assert_allclose(
            M.information_gain(s, pts, base, convention=conv),
            M.information_gain(s, counts, base, convention=conv),
            atol=1e-12,
        )


def _judd_brute(p, idx, w):
    """AUC-Judd without jitter by its definition (ties count as above), every threshold in turn."""
    p = p.ravel()
    fixated = np.zeros(p.size, bool)
    fixated[idx] = True
    thr = np.sort(np.unique(p[idx]))[::-1]
    tp = [w[p[idx] >= t].sum() / w.sum() for t in thr]
    fp = [np.count_nonzero(p[~fixated] >= t) / (~fixated).sum() for t in thr]
    return np.trapezoid([0, *tp, 1], [0, *fp, 1])


@pytest.mark.parametrize("k", [10, 60])  # per-threshold counting and the sorted path
def test_multi_block_maps_match_the_definitions(k):
    rng = np.random.default_rng(k)
    s = np.round(_rand((2, 250, 300), 21), 3) + 5.0  # 75,000 px: several blocks; ties; an offset
    g = _rand((2, 250, 300), 22) ** 3
    idx = [rng.choice(s[0].size, k, replace=False) for _ in range(2)]
    counts = np.zeros(s.shape)
    for i in range(2):
        counts[i].ravel()[idx[i]] = 1
    for i in range(2):
        p, r = s[i].ravel(), g[i].ravel()
        assert M.nss(s, counts, convention="pysaliency")[i] == pytest.approx((p[idx[i]].mean() - p.mean()) / p.std())
        assert M.cc(s, g)[i] == pytest.approx(np.corrcoef(p, r)[0, 1], abs=1e-12)
        ph, gh = p / p.sum(), r / r.sum()
        eps = M.MIT_EPS
        assert M.kld(s, g)[i] == pytest.approx(np.sum(gh * np.log(eps + gh / (ph + eps))), rel=1e-12)
        assert M.sim(s, g, convention="pysaliency")[i] == pytest.approx(np.minimum(ph, gh).sum(), rel=1e-12)
        pm, gm = p - p.min(), r - r.min()
        assert M.sim(s, g)[i] == pytest.approx(np.minimum(pm / pm.sum(), gm / gm.sum()).sum(), rel=1e-12)
        want = _judd_brute(p, idx[i], np.ones(k))
        assert M.auc_judd(s, counts, jitter=False)[i] == pytest.approx(want, abs=1e-12)
        assert M.auc_judd(s, counts)[i] == pytest.approx(want, abs=0.01)  # ties broken at random


@pytest.mark.parametrize("convention", ["mit", "pysaliency"])
def test_auc_judd_with_jitter_is_the_definition_on_the_jittered_map(convention):
    """Across work units, with ties everywhere: jitter is a fixed function of (seed, pixel), so the AUC
    equals the one of the jittered map by its definition, to rounding."""
    from gazelab.analysis.metrics._base import JITTER
    from gazelab.analysis.metrics.roc import _noise

    rng = np.random.default_rng(5)
    s = np.round(_rand((2, 250, 300), 24), 2)  # 75,000 px: two work units; about 100 distinct values
    idx = [rng.choice(s[0].size, 40, replace=False) for _ in range(2)]
    counts = np.zeros(s.shape)
    for i in range(2):
        counts[i].ravel()[idx[i]] = 1
    got = M.auc_judd(s, counts, convention=convention, seed=7)
    for i in range(2):
        p = s[i].ravel()
        jittered = p + JITTER * (p.max() - p.min()) * _noise(7, np.arange(p.size))
        assert got[i] == pytest.approx(_judd_brute(jittered, idx[i], np.ones(40)), abs=1e-12)


# ---------------------------------------------------------------------------------- the suite
@pytest.mark.parametrize("convention", ["mit", "pysaliency"])
def test_suite_equals_each_metric_alone(convention):
    shape = (3, 40, 50)
    s, ref, base = np.round(_rand(shape, 31), 2), _rand(shape, 32) ** 4, _rand(shape, 33) + 0.1  # ties
    fix, other = _counts(shape, 12, 34), _counts(shape, 40, 35)
    names = sorted(M.METRICS)
    got = M.score(s, fixations=fix, reference=ref, other_fixations=other, baseline=base, metrics=names,
                  convention=convention, seed=3)  # fmt: skip
    assert list(got) == names
    for name in names:
        spec = M.METRICS[name]
        kw = {k: v for k, v in (("convention", convention), ("seed", 3)) if k in spec.function.__code__.co_varnames}
        args = {"fixations": (fix,), "map": (ref,), "fixations+others": (fix, other), "fixations+baseline": (fix, base)}
        want = spec.function(s, *args[spec.needs], **kw)
        np.testing.assert_allclose(got[name], want, rtol=1e-12, atol=1e-12, err_msg=name)
    single = M.score(s[0], fixations=fix[0], reference=ref[0], metrics=["nss", "cc", "auc_judd"])
    assert all(isinstance(v, float) for v in single.values())
    t = M.score(torch.from_numpy(s).float(), fixations=torch.from_numpy(fix), reference=torch.from_numpy(ref),
                metrics=["cc", "kld", "sim", "auc_judd"])  # fmt: skip
    assert all(v.dtype == torch.float32 for v in t.values())


def test_suite_with_points_and_negative_maps_and_errors():
    rng = np.random.default_rng(4)
    s = _rand((2, 30, 40), 41) - 0.5  # negative values: shifted densities
    g = _rand((2, 30, 40), 42)
    pts = [np.c_[rng.uniform(0, 40, 9), rng.uniform(0, 30, 9)] for _ in range(2)]
    others = [np.c_[rng.uniform(0, 40, 50), rng.uniform(0, 30, 50)] for _ in range(2)]
    got = M.score(s, fixations=pts, reference=g, other_fixations=others, convention="pysaliency")
    assert list(got) == list(M.DEFAULT_SUITE)
    np.testing.assert_allclose(got["kld"], M.kld(s, g, convention="pysaliency"), rtol=1e-12)
    np.testing.assert_allclose(got["auc_shuffled"], M.auc_shuffled(s, pts, others, convention="pysaliency"))
    with pytest.raises(ParameterError, match="reference"):
        M.score(s, fixations=pts, metrics=["nss", "cc"])
    with pytest.raises(ParameterError, match=r"metrics: \['ssim'\]"):
        M.score(s, fixations=pts, metrics=["ssim"])
    with pytest.raises(ParameterError, match="all zero"):
        M.score(s, reference=np.zeros_like(g), metrics=["kld"])
