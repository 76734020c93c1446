"""Agreement between two fixation tables (e.g. a detector vs the tracker's own EFIX events)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gazelab.errors import ParameterError

__all__ = ["agreement", "match_fixations"]


def match_fixations(reference: pd.DataFrame, detected: pd.DataFrame, *, tolerance_ms: float = 20.0) -> pd.DataFrame:
    """Match each reference fixation to the detected fixation with the nearest onset.

    Matching is per eye and one-to-one: a detected fixation matches at most one reference
    fixation (the one with the nearest onset); a reference fixation is matched when that
    nearest detected onset is within ``tolerance_ms``.

    Parameters
    ----------
    reference, detected : pandas.DataFrame
        Fixation tables with ``eye``, ``onset_ms``, ``duration_ms``.
    tolerance_ms : float, optional
        Largest onset difference counted as a match, ms (default 20).

    Returns
    -------
    pandas.DataFrame
        ``reference`` with added columns ``matched`` (bool), ``onset_diff_ms`` and
        ``duration_diff_ms`` (detected - reference; NaN when unmatched) and ``match`` (row
        position in ``detected``, -1 when unmatched).
    """
    if tolerance_ms < 0:
        raise ParameterError("tolerance_ms", tolerance_ms, "a duration >= 0 (ms)")
    ref = reference.reset_index(drop=True).copy()
    n = len(ref)
    match = np.full(n, -1, dtype=np.int64)
    diff = np.full(n, np.nan)
    det_eye = detected["eye"].astype(str).to_numpy()
    ref_eye = ref["eye"].astype(str).to_numpy()
    for eye in np.unique(ref_eye):
        ri = np.flatnonzero(ref_eye == eye)
        di = np.flatnonzero(det_eye == eye)
        if len(di) == 0:
            continue
        don = detected["onset_ms"].to_numpy(float)[di]
        order = np.argsort(don, kind="stable")
        di, don = di[order], don[order]
        ron = ref["onset_ms"].to_numpy(float)[ri]
        k = np.searchsorted(don, ron)
        left = np.clip(k - 1, 0, len(don) - 1)
        right = np.clip(k, 0, len(don) - 1)
        dl = np.abs(ron - don[left])
        dr = np.abs(ron - don[right])
        best = np.where(dr < dl, right, left)
        d = don[best] - ron
        ok = np.abs(d) <= tolerance_ms
        # one-to-one: where several references claim one detection, the nearest keeps it
        cand = np.flatnonzero(ok)
        if len(cand):
            o = cand[np.lexsort((np.abs(d[cand]), best[cand]))]
            first = np.r_[True, best[o][1:] != best[o][:-1]]
            keep = np.zeros(len(ri), bool)
            keep[o[first]] = True
            ok &= keep
        match[ri[ok]] = di[best[ok]]
        diff[ri[ok]] = d[ok]
    ref["matched"] = match >= 0
    ref["match"] = match
    ref["onset_diff_ms"] = diff
    det_dur = np.r_[detected["duration_ms"].to_numpy(float), np.nan]  # -1 picks the NaN
    ref["duration_diff_ms"] = det_dur[match] - ref["duration_ms"].to_numpy(float)
    return ref


def agreement(reference: pd.DataFrame, detected: pd.DataFrame, *, tolerance_ms: float = 20.0) -> pd.DataFrame:
    """Per-eye summary of :func:`match_fixations`.

    Returns
    -------
    pandas.DataFrame
        One row per eye: ``n_reference``, ``n_detected``, ``matched_fraction``,
        ``mean_abs_onset_diff_ms``, ``mean_abs_duration_diff_ms``,
        ``median_abs_duration_diff_ms``, and ``precision`` (the fraction of detected
        fixations that are some reference fixation's match).
    """
    m = match_fixations(reference, detected, tolerance_ms=tolerance_ms)
    rows = []
    for eye, g in m.groupby(m["eye"].astype(str), sort=True):
        mm = g[g["matched"]]
        rows.append(
            {
                "eye": eye,
                "n_reference": len(g),
                "n_detected": int((detected["eye"].astype(str) == eye).sum()),
                "matched_fraction": float(g["matched"].mean()) if len(g) else float("nan"),
                "mean_abs_onset_diff_ms": float(mm["onset_diff_ms"].abs().mean()),
                "mean_abs_duration_diff_ms": float(mm["duration_diff_ms"].abs().mean()),
                "median_abs_duration_diff_ms": float(mm["duration_diff_ms"].abs().median()),
                "precision": len(mm) / max(1, int((detected["eye"].astype(str) == eye).sum())),
            }
        )
    return pd.DataFrame(rows)
