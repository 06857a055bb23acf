"""Benchmark of the batch path: ``python -m criteria bench --subjects N``.

Generates N deterministic synthetic measurement-level subjects (seeded; the same seed gives
the same JSON), then times, in one process, exactly what ``evaluate`` does with a batch:
JSON text -> :func:`~criteria.parse.load_json` -> :func:`~criteria.parse.parse_payload`
-> :func:`~criteria.evaluate.evaluate` for RECIST 1.1, iRECIST and imRECIST ->
:func:`~criteria.serialize.results_text` (the text of ``json.dumps`` of
:func:`~criteria.serialize.subject_json`, written directly, as the command line writes it).
Generation is not timed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from criteria.ambiguities import DefaultsCache
from criteria.evaluate import evaluate, gc_paused
from criteria.lesions import without_sentences
from criteria.parse import load_json, parse_payload
from criteria.serialize import results_text
from criteria.types import (
    CRITERIA,
    IMRECIST,
    IRECIST,
    IRRC,
    IRRECIST,
    ITRECIST,
    PET_CRITERIA,
    RECIST11,
    Subject,
)

_ORGANS = ("liver", "lung", "adrenal gland", "spleen", "peritoneum", "kidney", "bone", "skin")
_NT_WORDS = ("present", "present", "present", "absent", "not_evaluated", "unequivocal_progression",
             "further_increase")
_START = dt.date(2024, 1, 1)


def _mm(value: float) -> Decimal:
    return Decimal(str(round(value, 1)))


def synthetic_subject(rng: random.Random, index: int) -> dict[str, Any]:
    """One plausible subject: 1-5 targets (at most 2 per organ, nodes >= 15 mm short axis),
    0-3 non-targets, 2-9 follow-ups 6-8 weeks apart whose sums drift by a random trend with
    noise (so every response category occurs), occasional missing measurements, TSTM values,
    new lesions and scans not done."""
    reference = _START + dt.timedelta(days=rng.randrange(0, 365))
    targets: list[dict[str, Any]] = []
    per_organ: dict[str, int] = {}
    for k in range(rng.randint(1, 5)):
        node = rng.random() < 0.25
        organ = "lymph node" if node else rng.choice(_ORGANS)
        if per_organ.get(organ, 0) >= 2:
            continue
        per_organ[organ] = per_organ.get(organ, 0) + 1
        size = rng.uniform(15, 60) if node else rng.uniform(10, 80)
        targets.append({"id": f"T{k + 1}", "organ": organ, "node": node, "mm": _mm(size)})
    non_targets = [{"id": f"NT{k + 1}", "organ": rng.choice(_ORGANS), "node": False}
                   for k in range(rng.randint(0, 3))]
    trend = rng.uniform(-0.25, 0.2)
    sizes = {t["id"]: float(t["mm"]) for t in targets}
    timepoints: list[dict[str, Any]] = []
    date = reference
    for k in range(rng.randint(2, 9)):
        date += dt.timedelta(days=rng.choice((42, 42, 49, 56)))
        if rng.random() < 0.03:
            timepoints.append({"date": date.isoformat(), "scan": "not_done"})
            continue
        step = trend + rng.uniform(-0.12, 0.12)
        values: dict[str, Any] = {}
        for t in targets:
            size = sizes[t["id"]] * (1 + step)
            # a shrinking lesion disappears (0 mm; a node returns to normal size)
            size = (min(size, 8.0) if t["node"] else 0.0) if size < (12 if t["node"] else 4) else size
            sizes[t["id"]] = size
            roll = rng.random()
            if roll < 0.03:
                values[t["id"]] = None
            elif roll < 0.05 and size > 0:
                values[t["id"]] = "TSTM"
            else:
                values[t["id"]] = _mm(size)
        gone = all(sizes[t["id"]] < 10 for t in targets)
        statuses = {n["id"]: ("absent" if gone and rng.random() < 0.8
                              else rng.choice(_NT_WORDS) if rng.random() < 0.2 else "present")
                    for n in non_targets}
        new = []
        if rng.random() < 0.08:
            new.append({"id": f"N{k + 1}", "organ": rng.choice(_ORGANS), "node": False,
                        "mm": _mm(rng.uniform(5, 25)), "equivocal": rng.random() < 0.2})
        timepoints.append({"date": date.isoformat(), "scan": "scheduled", "targets": values,
                           "non_targets": statuses, "new_lesions": new})
    return {
        "subject": f"B{index:06d}",
        "reference_date": reference.isoformat(),
        "baseline": {"date": reference.isoformat(), "targets": targets, "non_targets": non_targets},
        "timepoints": timepoints,
    }


def bidimensional_subject(rng: random.Random, index: int) -> dict[str, Any]:
    """:func:`synthetic_subject` measured bidimensionally, for irRC (issue 14): every lesion
    gets a fixed perpendicular-to-longest ratio (0.5 to 1), its ``perp_mm`` (a node: its long
    axis ``long_mm``, 1 to 1.8 times the short axis) at baseline and at every measured
    follow-up, new lesions included. The unidimensional values are those of
    :func:`synthetic_subject` for the same generator state."""
    subject = synthetic_subject(rng, index)
    ratios: dict[str, float] = {}

    def pair(lesion_id: str, node: bool, mm: Decimal) -> dict[str, Any]:
        ratio = ratios.setdefault(lesion_id, rng.uniform(1.0, 1.8) if node else rng.uniform(0.5, 1.0))
        if node:
            return {"mm": mm, "long_mm": max(mm, _mm(float(mm) * ratio))}
        return {"mm": mm, "perp_mm": min(mm, _mm(float(mm) * ratio))}

    nodes = {}
    for t in subject["baseline"]["targets"]:
        nodes[t["id"]] = t["node"]
        t.update(pair(t["id"], t["node"], t["mm"]))
    for tp in subject["timepoints"]:
        values = tp.get("targets", {})
        for lesion_id, value in values.items():
            if isinstance(value, Decimal) and value > 0:
                values[lesion_id] = pair(lesion_id, nodes[lesion_id], value)
        for lesion in tp.get("new_lesions", []):
            lesion.update(pair(lesion["id"], lesion["node"], lesion["mm"]))
    return subject
def itrecist_subject(rng: random.Random, index: int) -> dict[str, Any]:
    """One itRECIST subject (ITR-CLASS): 1-5 target injected and 1-5 target non-injected
    lesions (at most 2 per organ), 0-2 non-targets of each kind, the injected lesions drifting
    by their own trend (local effect) and the non-injected by another (systemic effect), a
    non-injected lesion now and then injected at a follow-up, occasional TSTM, missing values
    and new lesions."""
    reference = _START + dt.timedelta(days=rng.randrange(0, 365))
    organs = list(_ORGANS)
    rng.shuffle(organs)
    slots = [organ for organ in organs for _ in range(2)]  # 16 places, 2 per organ
    targets: list[dict[str, Any]] = []
    for injected, count in ((True, rng.randint(1, 5)), (False, rng.randint(1, 5))):
        for _ in range(count):
            targets.append({"id": f"T{len(targets) + 1}", "organ": slots[len(targets)], "node": False,
                            "mm": _mm(rng.uniform(10, 60)), "injected": injected})
    non_targets = [{"id": f"NT{k + 1}", "organ": rng.choice(_ORGANS), "node": False, "injected": flag}
                   for k, flag in enumerate([True] * rng.randint(0, 2) + [False] * rng.randint(0, 2))]
    trends = {True: rng.uniform(-0.35, 0.15), False: rng.uniform(-0.2, 0.2)}
    sizes = {t["id"]: float(t["mm"]) for t in targets}
    injected_now: set[str] = {x["id"] for x in (*targets, *non_targets) if x["injected"]}
    lesion_ids: list[str] = [x["id"] for x in (*targets, *non_targets)]
    timepoints: list[dict[str, Any]] = []
    date = reference
    for k in range(rng.randint(2, 8)):
        date += dt.timedelta(days=rng.choice((42, 49, 56)))
        values: dict[str, Any] = {}
        for t in targets:
            size = sizes[t["id"]] * (1 + trends[t["id"] in injected_now] + rng.uniform(-0.1, 0.1))
            size = 0.0 if size < 4 else size
            sizes[t["id"]] = size
            roll = rng.random()
            values[t["id"]] = None if roll < 0.02 else "TSTM" if roll < 0.04 and size > 0 else _mm(size)
        statuses = {n["id"]: rng.choice(_NT_WORDS) if rng.random() < 0.2 else "present" for n in non_targets}
        point: dict[str, Any] = {"date": date.isoformat(), "targets": values, "non_targets": statuses}
        if rng.random() < 0.08:
            point["new_lesions"] = [{"id": f"N{k + 1}", "organ": rng.choice(_ORGANS), "node": False,
                                     "mm": _mm(rng.uniform(5, 25))}]
        candidates = [x for x in lesion_ids if x not in injected_now]
        if candidates and rng.random() < 0.1:
            chosen = rng.choice(candidates)
            injected_now.add(chosen)
            point["injected"] = [chosen]
        timepoints.append(point)
    return {
        "subject": f"I{index:06d}",
        "reference_date": reference.isoformat(),
        "baseline": {"date": reference.isoformat(), "targets": targets, "non_targets": non_targets},
        "timepoints": timepoints,
    }


def _decimal_as_number(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # one-decimal values: the float's repr is the same text
    raise TypeError(type(value).__name__)


def synthetic_batch_json(subjects: int, seed: int = 20241121) -> str:
    """The JSON text of ``subjects`` synthetic subjects (deterministic for a seed)."""
    rng = random.Random(seed)
    return json.dumps([synthetic_subject(rng, i) for i in range(subjects)], default=_decimal_as_number)


# --- PERCIST family: synthetic PET subjects (PET input only) ---

def _sul(value: float) -> Decimal:
    return Decimal(str(round(max(value, 0.0), 2)))


def synthetic_pet_subject(rng: random.Random, index: int) -> dict[str, Any]:
    """One synthetic PET-only subject: a liver reference, 1-6 baseline lesions, 2-6 follow-up
    scans 6-10 weeks apart with SULpeak drifting, occasional new lesions (with a functional
    diameter), missed scans and reference / uptake-time drift."""
    liver_mean = 1.5 + rng.random()
    baseline_date = _START - dt.timedelta(days=rng.randint(1, 14))

    def reference() -> dict[str, Any]:
        if rng.random() < 0.05:
            return {"site": "blood_pool", "mean": _sul(1.2 + rng.random() * 0.8),
                    "sd": _sul(0.1 + rng.random() * 0.2)}
        return {"site": "liver", "mean": _sul(liver_mean * rng.uniform(0.85, 1.15)),
                "sd": _sul(0.1 + rng.random() * 0.3)}

    lesions: list[dict[str, Any]] = [
        {"id": f"L{k}", "organ": rng.choice(_ORGANS), "sul_peak": _sul(rng.uniform(2.0, 15.0)),
         "tlg": _sul(rng.uniform(10, 400))} for k in range(rng.randint(1, 6))]
    baseline = {"date": baseline_date.isoformat(), "uptake_min": 60, "reference": reference(),
                "lesions": lesions}
    trend = rng.uniform(-0.5, 0.5)
    scans: list[dict[str, Any]] = []
    day = 0
    current = {lesion["id"]: float(lesion["sul_peak"]) for lesion in lesions}
    new_count = 0
    for _ in range(rng.randint(2, 6)):
        day += rng.randint(42, 70)
        date = (_START + dt.timedelta(days=day)).isoformat()
        if rng.random() < 0.04:
            scans.append({"date": date, "not_done": True})
            continue
        seen = []
        for lesion in lesions:
            value = current[lesion["id"]] * (1 + trend + rng.uniform(-0.25, 0.25))
            value = min(value, 60.0)  # within the input bound (SUL <= 100)
            current[lesion["id"]] = max(value, 0.0)
            if value > 0.5:
                seen.append({"id": lesion["id"], "organ": lesion["organ"], "sul_peak": _sul(value)})
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 5)):
                new_count += 1
                seen.append({"id": f"N{new_count}", "organ": rng.choice(_ORGANS), "new": True,
                             "sul_peak": _sul(rng.uniform(2.0, 10.0)), "mm": _mm(rng.uniform(4, 25))})
        scans.append({"date": date, "uptake_min": rng.randint(50, 80), "reference": reference(),
                      "lesions": seen, "unequivocal_progression": rng.random() < 0.03})
    subject: dict[str, Any] = {"subject": f"PET-{index:06d}", "reference_date": _START.isoformat(),
                               "pet": {"tracer": "FDG", "baseline": baseline, "timepoints": scans}}
    if rng.random() < 0.1:
        subject["death_date"] = (_START + dt.timedelta(days=day + rng.randint(1, 90))).isoformat()
    return subject


# --- growth family: pre-baseline scans and clinical items ---

def synthetic_growth_subject(rng: random.Random, index: int) -> dict[str, Any]:
    """:func:`synthetic_subject` with 1-2 pre-baseline scans 4-10 weeks apart (lesion values,
    or the sum only), growing towards the baseline at a random pace, and a clinical record
    (treatment failure date, ECOG item) for most subjects: the input of the growth analyses."""
    subject = synthetic_subject(rng, index)
    baseline = subject["baseline"]
    base_date = dt.date.fromisoformat(baseline["date"])
    scans: list[dict[str, Any]] = []
    date = base_date
    factor = 1.0
    for _ in range(rng.randint(1, 2)):
        date -= dt.timedelta(days=rng.choice((28, 42, 56, 70)))
        factor *= rng.uniform(0.7, 1.05)
        values = {t["id"]: _mm(float(t["mm"]) * factor) for t in baseline["targets"]}
        if rng.random() < 0.2:
            scans.append({"date": date.isoformat(), "sum_mm": _mm(sum(float(v) for v in values.values()))})
        else:
            scans.append({"date": date.isoformat(), "targets": values})
    subject["prebaseline"] = scans[::-1]
    if rng.random() < 0.8:
        failure = base_date + dt.timedelta(days=rng.randint(20, 400))
        subject["clinical"] = {"treatment_failure_date": failure.isoformat(),
                               "ecog_deterioration_2_months": rng.random() < 0.1}
    return subject


Generator = Callable[[random.Random, int], dict[str, Any]]
#: The synthetic input each criterion is benchmarked on (``bench --per-criterion``): a
#: generator of one subject's contract input from the seeded generator and the subject's index.
GENERATORS: Mapping[str, Generator] = MappingProxyType({
    RECIST11: synthetic_subject,
    IRECIST: synthetic_subject,
    IMRECIST: synthetic_subject,
    **dict.fromkeys(PET_CRITERIA, synthetic_pet_subject),  # PERCIST family
    # irRC / irRECIST (issue 14): bidimensional values for irRC; irRECIST reads RECIST input
    IRRC: bidimensional_subject,
    IRRECIST: synthetic_subject,
    ITRECIST: itrecist_subject,
})


#: The growth analyses' synthetic input and the criteria each is timed with
#: (``bench --per-criterion`` reports them under ``per_analysis``).
ANALYSIS_GENERATORS: Mapping[str, tuple[Generator, tuple[str, ...]]] = MappingProxyType({
    "tgr": (synthetic_growth_subject, (RECIST11,)),
    "pseudoprogression": (synthetic_subject, (IRECIST, IMRECIST)),
    "dissociated_response": (synthetic_subject, (RECIST11,)),
})


def run_batch(text: str, criteria: Sequence[str] = CRITERIA, analyses: Sequence[str] | None = None) -> str:
    """The timed path: JSON text in, JSON text out, ``criteria`` (default the three) and the
    growth ``analyses`` (None: as the command line without ``--analyses``)."""
    with gc_paused(), without_sentences():  # as ``evaluate`` without --explain
        # the subjects and results die with _batch_text's frame, inside the pause: alive when
        # the collector resumes, they would all be scanned by its first collection
        return _batch_text(text, criteria, analyses)


def _batch_text(text: str, criteria: Sequence[str], analyses: Sequence[str] | None) -> str:
    payload = parse_payload(load_json(text))
    subjects: list[Subject] = payload if isinstance(payload, list) else [payload]
    notes = DefaultsCache()  # as the command line: one per run
    # json.dumps([subject_json(r) for r in results]) written directly (as the command line
    # writes its indented output)
    return results_text([evaluate(s, criteria, defaults=notes, analyses=analyses) for s in subjects])


def _timed(text: str, evaluations: int, criteria: Sequence[str]) -> tuple[float, float]:
    started, cpu_started = time.perf_counter(), time.process_time()
    run_batch(text, criteria)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return round(evaluations / seconds, 1), round(evaluations / max(cpu_seconds, 1e-9), 1)


def per_criterion(subjects: int, seed: int = 20241121,
                  criteria: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Each criterion alone on its own generator's ``subjects`` subjects (``GENERATORS``):
    ``{criterion: {"evaluations_per_second": ..., "cpu_evaluations_per_second": ...}}``."""
    report: dict[str, dict[str, float]] = {}
    for criterion in criteria or tuple(GENERATORS):
        rng = random.Random(seed)
        generate = GENERATORS[criterion]
        text = json.dumps([generate(rng, i) for i in range(subjects)], default=_decimal_as_number)
        wall, cpu = _timed(text, subjects, (criterion,))
        report[criterion] = {"evaluations_per_second": wall, "cpu_evaluations_per_second": cpu}
    return report


def per_analysis(subjects: int, seed: int = 20241121) -> dict[str, dict[str, float]]:
    """Each growth analysis on its generator's ``subjects`` subjects, with the criteria it is
    timed with (``ANALYSIS_GENERATORS``): subjects per second, criteria and analysis together."""
    report: dict[str, dict[str, float]] = {}
    for name, (generate, criteria) in ANALYSIS_GENERATORS.items():
        rng = random.Random(seed)
        text = json.dumps([generate(rng, i) for i in range(subjects)], default=_decimal_as_number)
        started, cpu_started = time.perf_counter(), time.process_time()
        run_batch(text, criteria, (name,))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        report[name] = {"evaluations_per_second": round(subjects / wall, 1),
                        "cpu_evaluations_per_second": round(subjects / max(cpu, 1e-9), 1)}
    return report


def run_bench(subjects: int, seed: int = 20241121) -> dict[str, Any]:
    """Generate, then time :func:`run_batch`; returns the one-line report."""
    text = synthetic_batch_json(subjects, seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    run_batch(text)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    evaluations = subjects * len(CRITERIA)
    # Wall-clock is the headline figure; CPU time is reported too because on a shared
    # machine other processes stretch the wall clock of this single-threaded run.
    return {"subjects": subjects, "criteria": len(CRITERIA), "seconds": round(seconds, 3),
            "evaluations_per_second": round(evaluations / seconds, 1),
            "cpu_seconds": round(cpu_seconds, 3),
            "cpu_evaluations_per_second": round(evaluations / max(cpu_seconds, 1e-9), 1)}
