"""Fellegi-Sunter: m and u per comparison level, estimated without labels, and the thresholds.

- u (how often a level occurs among non-matching pairs) comes from random record pairs, which
  are almost all non-matches: each level's share among the random pairs where the comparison is
  not null (one pseudo-pair per level keeps a level never seen at random from weighing infinity).
- m (how often a level occurs among matching pairs) and the share of matches among the blocked
  pairs (one per blocking rule) come from expectation-maximisation over the blocked pairs' comparison patterns,
  assuming the comparisons independent given match status. Spark only counts the pairs per
  pattern (a few thousand rows at most); EM runs on that table in the driver. An unlabelled pair
  leaves out the comparisons its blocking rule keys on (in its block everyone agrees on them).
  Pairs of two
  records with valid identifiers keep the label their identifiers give (same: match; different:
  non-match) instead of an E-step guess: without that, EM on tight blocks (where even non-matches
  agree on the blocked fields) explains every pair as a match. With ``fix_u`` false, EM
  re-estimates u on the blocked pairs as well, starting from the random pairs' u.
- a level's weight is log2(m / u); a pair's weight the sum over its comparisons (null: 0). Its
  posterior match probability is 1 / (1 + 2^-(weight + log2(prior / (1 - prior)))), the prior
  being the share of matches among all record pairs (EM's matches among the blocked pairs over
  all pairs), as u is that of random pairs. The prior shrinks as the table grows, so a city of
  three million needs more evidence than a village for the same name and birth date.
- thresholds without labels: a pair is accepted as a link when its posterior reaches
  ``accept_probability`` (0.8 by default, above the 0.5 that would minimise expected errors: a
  false merge of two people costs more than a pair left for review), so the accept weight is
  log2(p / (1 - p)) - log2(prior / (1 - prior)); pairs between ``review_probability`` (0.2) and
  it go to clerical review. ``match_weight`` sets the accept weight directly instead.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from citylake.resolution.comparisons import Comparison, decode

FLOOR = 1e-9  # no probability is exactly 0 or 1


@dataclass
class ComparisonModel:
    name: str
    labels: list[str]  # agreement levels in order, "else" last
    m: list[float]
    u: list[float]

    @property
    def weights(self) -> list[float]:
        return [math.log2(max(m, FLOOR) / max(u, FLOOR)) for m, u in zip(self.m, self.u)]


@dataclass
class Model:
    comparisons: list[ComparisonModel]
    match_share: float  # the prior of the posterior: matches among all record pairs (u from random pairs)
    accept_weight: float
    review_weight: float
    accept_probability: float
    review_probability: float
    em_iterations: int = 0
    converged: bool = False
    notes: list[str] = field(default_factory=list)
    blocked_match_share: float | None = None  # EM's lambda over the blocked pairs

    def probability(self, weight: float) -> float:
        prior = math.log2(self.match_share / (1 - self.match_share))
        return 1 / (1 + 2 ** -(weight + prior))

    def comparison(self, name: str) -> ComparisonModel:
        return next(c for c in self.comparisons if c.name == name)

    def to_dict(self) -> dict:
        document = asdict(self)
        for comparison, model in zip(document["comparisons"], self.comparisons):
            comparison["weights"] = model.weights
        return document

    @classmethod
    def from_dict(cls, document: dict) -> Model:
        comparisons = [ComparisonModel(c["name"], list(c["labels"]), list(c["m"]), list(c["u"]))
                       for c in document["comparisons"]]
        values = {key: value for key, value in document.items() if key != "comparisons"}
        return cls(comparisons=comparisons, **values)

    def report(self) -> dict:
        """m, u and weight per level, rounded, for the report."""
        return {
            "match_share": self.match_share,
            "blocked_match_share": self.blocked_match_share,
            "em_iterations": self.em_iterations,
            "converged": self.converged,
            "comparisons": {
                c.name: [{"level": label, "m": round(m, 6), "u": round(u, 6), "weight": round(w, 3)}
                         for label, m, u, w in zip(c.labels, c.m, c.u, c.weights)]
                for c in self.comparisons
            },
            "notes": self.notes,
        }


def _logit2(probability: float) -> float:
    return math.log2(probability / (1 - probability))


def thresholds(match_share: float, accept_probability: float, review_probability: float,
               match_weight: float | None = None) -> tuple[float, float]:
    """(accept weight, review weight) for posterior probabilities under the prior ``match_share``."""
    prior = _logit2(match_share)
    accept = match_weight if match_weight is not None else _logit2(accept_probability) - prior
    review = min(_logit2(review_probability) - prior, accept)
    return accept, review


def _key(key) -> tuple[int, bool | None, int | None]:
    """A counts key: a pattern code, or (code, label), or (code, label, rule)."""
    if isinstance(key, (int, np.integer)):
        return int(key), None, None
    return (*key, None, None)[:3]


def _patterns(counts: dict, comparisons: list[Comparison]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int | None]]:
    """(levels per row, count, label, rule) from counts keyed as in :func:`_key`; label 1.0 known
    match, 0.0 known non-match, nan unknown."""
    keys = sorted(counts, key=lambda key: tuple(-1 if part is None else int(part) for part in _key(key)))
    parts = [_key(key) for key in keys]
    levels = np.array([decode(code, comparisons) for code, _, _ in parts], dtype=np.int64).reshape(
        len(parts), len(comparisons))
    labels = np.array([np.nan if label is None else float(label) for _, label, _ in parts], dtype=float)
    return levels, np.array([counts[key] for key in keys], dtype=float), labels, [rule for _, _, rule in parts]


def u_from_random(counts: dict, comparisons: list[Comparison]) -> list[list[float]]:
    """Each level's share among the random pairs where the comparison is not null."""
    levels, weights, _, _ = _patterns(counts, comparisons)
    result = []
    for k, comparison in enumerate(comparisons):
        size = len(comparison.labels)
        tally = np.ones(size)  # one pseudo-pair per level
        for index in range(1, size + 1):
            tally[index - 1] += weights[levels[:, k] == index].sum() if len(weights) else 0
        result.append(list(tally / tally.sum()))
    return result


def _initial_m(size: int) -> list[float]:
    """Agreement levels likely among matches, most for the first; disagreement rare."""
    values = [0.8 * 0.5 ** index for index in range(size - 1)] + [0.05]
    total = sum(values)
    return [value / total for value in values]


def estimate(counts: dict, comparisons: list[Comparison], u: list[list[float]], *,
             match_share: float = 0.01, fix_u: bool = True, max_iterations: int = 100,
             tolerance: float = 1e-6, unlabelled_only: tuple[int, ...] = (), prior_pairs: float = 10.0,
             blocked_on: dict[int, set[int]] | None = None
             ) -> tuple[list[list[float]], list[list[float]], float, int, bool]:
    """EM over pattern counts: (m, u, lambda, iterations, converged).

    ``counts`` maps a pattern code, or (code, label), to its number of pairs; a pair labelled
    True or False (two records with valid identifiers: the same identifier or two different ones)
    keeps that label instead of an E-step posterior, which ties the mixture to what the
    identifiers already say (and stops EM from explaining every blocked pair as a match). The
    comparisons in ``unlabelled_only`` (the identifiers' own) are left out for labelled pairs,
    where they only restate the label. ``prior_pairs`` pseudo-matches spread like the initial m
    keep a level no match happened to show (in a small table) from weighing against a match.

    ``blocked_on`` (rule -> comparison indices): an unlabelled pair leaves out the comparisons
    its blocking rule keys on, in both steps. Inside a block even non-matches agree on them, so
    they tell matches from non-matches nothing there, and random-pair u would call every blocked
    pair a match (the way Splink trains m in sessions that leave the blocked comparisons out).
    Labelled pairs keep them: their label does not depend on them, and the identifier rule finds
    them first, so they carry the unbiased agreement rates of true matches."""
    levels, weights, labels, rules = _patterns(counts, comparisons)
    initial = [np.array(_initial_m(len(c.labels))) for c in comparisons]
    m = [list(values) for values in initial]
    u = [list(values) for values in u]
    share = min(max(match_share, 1e-6), 1 - 1e-6)
    if weights.sum() == 0:
        return m, u, share, 0, False
    labelled = ~np.isnan(labels)
    used = levels.copy()
    for k in unlabelled_only:
        used[labelled, k] = 0  # as if null
    for row, rule in enumerate(rules):
        if not labelled[row]:
            for k in (blocked_on or {}).get(rule, ()):
                used[row, k] = 0
    # one match share per blocking rule: a later rule finds mostly what earlier ones left, so
    # its pairs are far less often matches (one shared prior would call them matches)
    groups = np.array([-1 if rule is None else rule for rule in rules])
    names = sorted(set(groups.tolist()))
    shares = {group: share for group in names}
    iterations, converged = 0, False
    for iterations in range(1, max_iterations + 1):
        prior = np.array([shares[group] for group in groups])
        log_m = np.log(prior)
        log_u = np.log(1 - prior)
        for k in range(len(comparisons)):
            present = used[:, k] > 0
            index = np.where(present, used[:, k] - 1, 0)
            log_m += np.where(present, np.log(np.maximum(np.array(m[k])[index], FLOOR)), 0.0)
            log_u += np.where(present, np.log(np.maximum(np.array(u[k])[index], FLOOR)), 0.0)
        posterior = 1 / (1 + np.exp(np.clip(log_u - log_m, -700, 700)))
        posterior = np.where(labelled, np.nan_to_num(labels), posterior)
        matched, unmatched = weights * posterior, weights * (1 - posterior)
        new_shares = {group: min(max(matched[groups == group].sum() / weights[groups == group].sum(), 1e-9), 1 - 1e-9)
                      for group in names}
        new_m, new_u = [], []
        for k, comparison in enumerate(comparisons):
            size = len(comparison.labels)
            m_tally = np.array([matched[used[:, k] == i].sum() for i in range(1, size + 1)])
            u_tally = np.array([unmatched[used[:, k] == i].sum() for i in range(1, size + 1)])
            m_tally = m_tally + prior_pairs * initial[k]
            new_m.append(list(m_tally / m_tally.sum()) if m_tally.sum() > 0 else m[k])
            new_u.append(u[k] if fix_u or u_tally.sum() == 0 else list((u_tally + 1e-6) / (u_tally.sum() + 1e-6 * size)))
        change = max(*(abs(new_shares[group] - shares[group]) for group in names),
                     *(abs(a - b) for old, new in zip(m, new_m) for a, b in zip(old, new)),
                     *(abs(a - b) for old, new in zip(u, new_u) for a, b in zip(old, new)))
        m, u, shares = new_m, new_u, new_shares
        if change < tolerance:
            converged = True
            break
    share = min(max(sum(shares[group] * weights[groups == group].sum() for group in names) / weights.sum(), 1e-9),
                1 - 1e-9)
    return m, u, share, iterations, converged


def fit(pair_counts: dict, random_counts: dict, comparisons: list[Comparison], *,
        accept_probability: float, review_probability: float, match_weight: float | None = None,
        candidate_pairs: int | None = None, record_pairs: int | None = None,
        initial_match_share: float = 0.01, fix_u: bool = True, max_iterations: int = 100,
        tolerance: float = 1e-6, unlabelled_only: tuple[int, ...] = (), prior_pairs: float = 10.0,
        blocked_on: dict[int, set[int]] | None = None) -> Model:
    """The model from the blocked pairs' and the random pairs' pattern counts.

    With u from random pairs (``fix_u``), weights speak of a pair of records drawn at random, so
    the prior is the share of matches among all record pairs: the blocked pairs' match share
    times the blocked pairs, over all ``record_pairs`` (blocking is taken to keep nearly every
    match). With u re-estimated on the blocked pairs, the prior is the blocked pairs' share."""
    u0 = u_from_random(random_counts, comparisons)
    m, u, share, iterations, converged = estimate(
        pair_counts, comparisons, u0, match_share=initial_match_share, fix_u=fix_u,
        max_iterations=max_iterations, tolerance=tolerance, unlabelled_only=unlabelled_only,
        prior_pairs=prior_pairs, blocked_on=blocked_on)
    notes = []
    models = [ComparisonModel(c.name, c.labels, m_k, u_k) for c, m_k, u_k in zip(comparisons, m, u)]
    for model in models:
        weights = model.weights
        if weights[0] <= 0:
            notes.append(f"{model.name}: its first level does not favour a match (weight {weights[0]:.2f})")
    prior = share
    if fix_u and candidate_pairs and record_pairs:
        prior = min(max(share * candidate_pairs / record_pairs, 1e-12), 0.5)
    accept, review = thresholds(prior, accept_probability, review_probability, match_weight)
    return Model(models, prior, accept, review, accept_probability, review_probability,
                 iterations, converged, notes, blocked_match_share=share)
