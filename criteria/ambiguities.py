"""The ambiguity defaults (criteria-rules.md §13, A1-A17, and our E1-E5) as data, for ``--explain``.

``criteria/AMBIGUITIES.md`` is the prose; this table is what a result says about the
readings it relied on. Each entry names the :class:`~criteria.types.Settings` field that
selects the other reading (``None`` where no setting exists) and the criteria it affects.
"""

from __future__ import annotations

from dataclasses import dataclass

from criteria.types import (
    IMPERCIST5,
    IMRECIST,
    IPERCIST,
    IRECIST,
    IRRC,
    IRRECIST,
    ITRECIST,
    PERCIMT,
    PET_CRITERIA,
    RECIST11,
    Settings,
)


@dataclass(frozen=True)
class Ambiguity:
    number: str
    setting: str | None
    criteria: tuple[str, ...]
    #: One sentence per value of the setting (``str(value)`` -> sentence); one key "*" for
    #: entries without a setting.
    readings: tuple[tuple[str, str], ...]
    #: True when the reading concerns endpoints (applies to response-level input too);
    #: False when it concerns timepoint responses computed from measurements.
    endpoint: bool = False


_ALL = (RECIST11, IRECIST, IMRECIST)
#: irRC / irRECIST (issue 14) share the readings their engines and endpoints reuse.
_IR = (IRRC, IRRECIST)

AMBIGUITIES: tuple[Ambiguity, ...] = (
    Ambiguity("A1", "pr_continues_until_pd", (*_ALL, IRRECIST), (
        ("True", "after PR, later timepoints stay PR until PD (EORTC FAQ 'Managing PR')"),
        ("False", "every timepoint is judged against baseline literally (RECIST 1.1 §4.3.1)"))),
    Ambiguity("A2", "reappearance_after_cr_is_pd", (*_ALL, IRRECIST), (
        ("True", "a target lesion reappearing after an overall CR (node >= 10 mm) is PD (FAQ-ABN-NODE)"),
        ("False", "after CR only the sum rule decides progression"))),
    Ambiguity("A3", "irecist_unconfirmed_iupd", (IRECIST,), (
        ("event", "an iUPD never confirmed is an iPFS event at the iUPD date"),
        ("censor", "an iUPD never confirmed is censored at the last adequate assessment before it")),
        endpoint=True),
    Ambiguity("A4", "irecist_late_scan_confirms", (IRECIST,), (
        ("True", "a scan after the confirmation window's upper bound may still confirm iCPD"),
        ("False", "a scan after the confirmation window is not a confirmatory scan"))),
    Ambiguity("A5", "irecist_nl_iupd_allows_ipr", (IRECIST,), (
        ("True", "after a new-lesion iUPD, targets shrinking further to iPR give iPR while the new lesions "
                 "persist unchanged (iRECIST FAQ scenario B)"),
        ("False", "persisting new lesions keep iUPD (Table 2 lists iPR only with 'new lesions: no')"))),
    Ambiguity("A6", "imrecist_new_lesion_cap", (IMRECIST,), (
        ("recist", "at most 5 new measurable lesions, 2 per organ, join the imRECIST sum"),
        ("irrc", "at most 10 new measurable lesions, 5 per organ, join the imRECIST sum"))),
    Ambiguity("A7", "imrecist_pd_requires_5mm", (IMRECIST,), (
        ("True", "imRECIST PD needs +5 mm absolute as well as +20% over nadir"),
        ("False", "imRECIST PD needs only +20% over nadir"))),
    Ambiguity("A8", "imrecist_bor_after_pd", (IMRECIST,), (
        ("True", "imBOR counts responses after a PD that was not negated"),
        ("False", "imBOR stops at the first PD that was not negated")), endpoint=True),
    Ambiguity("A9", None, (IRECIST,), (
        ("*", "iCPD needs a further target SOM increase of >= 5 mm in every Table 2 row (not > 5 mm)"),)),
    Ambiguity("A11", "equivocal_backdates_response", (*_ALL, *_IR), (
        ("False", "a confirmed equivocal new lesion backdates the PD date only"),
        ("True", "a confirmed equivocal new lesion also turns the earlier timepoint into PD"))),
    Ambiguity("A12", "cr_then_pr_confirmed_as", (*_ALL, *_IR), (
        ("sd", "the CR was real: CR followed by PR is no confirmed response; SD if the SD minimum is met, "
               "otherwise PD (Table 3 footnote a)"),
        ("pr", "CR followed by PR is a confirmed PR (the CR was doubtful)")), endpoint=True),
    # E1-E5: readings the sources leave open that are not in criteria-rules.md §13.
    Ambiguity("E1", "irecist_early_scan_resets", (IRECIST,), (
        ("True", "an early scan after an iUPD that meets iSD/iPR/iCR resets the iUPD (IR-RESET; "
                 "FAQ-IR-EARLY-SCAN bars early scans only from defining iCPD)"),
        ("False", "an early scan after an iUPD that does not confirm is disregarded: the iUPD remains "
                  "(FAQ-IR-EARLY-SCAN 'otherwise the early scan is disregarded')"))),
    Ambiguity("E2", "irecist_equivocal_backdates_ipfs", (IRECIST,), (
        ("True", "an equivocal new lesion confirmed at an iUPD dates the iUPD and iPFS back to its first "
                 "scan, even before the first iUPD (R11-EQUIVOCAL via IR-BASE)"),
        ("False", "an iUPD is dated at its own scan; equivocal lesions do not backdate iPFS"))),
    Ambiguity("E3", "imrecist_equivocal_blocks_cr", (IMRECIST,), (
        ("False", "an equivocal new lesion does not rule out imRECIST CR (R11-EQUIVOCAL: not yet a lesion)"),
        ("True", "an equivocal new lesion rules out imRECIST CR like a non-measurable new lesion (IM-CR)"))),
    Ambiguity("E4", "imrecist_early_pd_confirms", (IMRECIST,), (
        ("True", "a PD after an imRECIST PD confirms it however soon it follows"),
        ("False", "a PD fewer than imrecist_negation_min_days after an imRECIST PD decides nothing")),
        endpoint=True),
    Ambiguity("E5", "bor_without_assessments", (*_ALL, *_IR), (
        ("missing", "a subject with no post-baseline assessment has no BOR (left missing)"),
        ("ne", "a subject with no post-baseline assessment has BOR NE (admiralonco missing_as_ne)")),
        endpoint=True),
    # --- PERCIST family (criteria.percist): P1-P6, A10 ---
    Ambiguity("P1", "percist_quality_failure_ne", PET_CRITERIA, (
        ("False", "a follow-up scan failing PERC-QC (uptake time > 15 min from baseline, liver mean not "
                  "within 20% and 0.3 SUL) is evaluated, with the failure reported in 'quality'"),
        ("True", "a follow-up scan failing PERC-QC is NE"))),
    Ambiguity("A10", "impercist5_pmd_threshold", (IMPERCIST5,), (
        ("30", "imPERCIST5 PMD needs the SULpeak sum up by >= 30% (Ito 2019 abstract)"),
        ("20", "imPERCIST5 PMD needs the SULpeak sum up by > 20% (JNCCN360 summary)"))),
    Ambiguity("P3", "impercist5_new_lesions_in_sum", (IMPERCIST5,), (
        ("True", "new lesions join the imPERCIST5 sum when among the five hottest (two per organ)"),
        ("False", "the imPERCIST5 sum keeps pre-existing lesions only"))),
    Ambiguity("P5", "ipercist_unconfirmed_upmd", (IPERCIST,), (
        ("event", "a UPMD never confirmed is a metabolic PFS event at its date"),
        ("censor", "a UPMD never confirmed is censored at the last adequate scan before it")),
        endpoint=True),
    Ambiguity("P6", "percimt_four_count", (PERCIMT,), (
        ("any", "PERCIMT: >= 4 new lesions of any size is PMD (Anwar 2018 abstract threshold)"),
        ("small", "PERCIMT: >= 4 new lesions < 1.0 cm is PMD (table wording)"))),
    # I1-I6: irRC / irRECIST (issue 14; criteria/AMBIGUITIES.md).
    Ambiguity("I1", "ir_pd_date", _IR, (
        ("first", "a confirmed irPD is dated at the first irPD of the confirmed pair (Wolchok: progression "
                  "at any single time point, confirmed by a second)"),
        ("confirming", "a confirmed irPD is dated at the confirming assessment")), endpoint=True),
    Ambiguity("I2", "ir_unconfirmed_pd", _IR, (
        ("event", "an irPD with no later evaluable assessment is an irPFS event at its date (as A3)"),
        ("censor", "an irPD with no later evaluable assessment is censored at the last adequate assessment "
                   "before it")), endpoint=True),
    Ambiguity("I3", "irrecist_pd_requires_5mm", (IRRECIST,), (
        ("True", "irRECIST irPD needs +5 mm absolute as well as +20% over the TMTB nadir (Bohnsack 2014)"),
        ("False", "irRECIST irPD needs only +20% over the TMTB nadir (Nishino 2013)"))),
    Ambiguity("I4", "ir_confirm_max_days", _IR, (
        ("0", "an irPD is confirmed by an irPD at least confirm_min_days later, with no upper bound"),
        ("84", "an irPD is confirmed only by an irPD 4 to 12 weeks later (one review's window)")),
        endpoint=True),
    Ambiguity("I7", "irrecist_nt_progression_is_pd", (IRRECIST,), (
        ("True", "irRECIST: unequivocal progression of non-target lesions is irPD (Bohnsack 2014)"),
        ("False", "irRECIST: non-target lesions only rule out irCR (Nishino 2013)"))),
    Ambiguity("I8", "ir_early_non_pd_refutes", _IR, (
        ("True", "a non-irPD assessment after an irPD, however soon, means the irPD is not confirmed "
                 "(Wolchok: two consecutive observations)"),
        ("False", "a non-irPD assessment fewer than confirm_min_days after an irPD is passed over "
                  "(review tables: negated by a non-PD assessment >= 4 weeks later)")), endpoint=True),
    Ambiguity("I5", None, (IRRC,), (
        ("*", "irRC: TSTM counts 5 x 5 = 25 mm2; a node has gone below 10 mm short axis, its product "
              "staying in the burden; an irPD is confirmed only by a second irPD >= 4 weeks later before "
              "any other response"),)),
    Ambiguity("I6", None, (IRRECIST,), (
        ("*", "irRECIST: a new non-measurable lesion never makes irPD (the contract has no 'unequivocal "
              "progression' of a new lesion); non-target unequivocal progression is irPD"),)),
    # T1-T3: itRECIST (GOL20) readings the paper leaves open.
    Ambiguity("T1", "itrecist_overall_basis", (ITRECIST,), (
        ("irecist", "overall, injected and non-injected responses assessed as iRECIST (iUPD confirmed as "
                    "iCPD; GOL20 aligns with iRECIST and assesses on after initial progression)"),
        ("recist1.1", "overall, injected and non-injected responses assessed as RECIST 1.1 (assessment "
                      "ends at the first PD)"))),
    Ambiguity("T2", "itrecist_post_baseline_injection", (ITRECIST,), (
        ("move", "a lesion injected after baseline joins the injected group from that timepoint on; both "
                 "groups' baseline and nadir are recomputed with the new membership (ITR-RECAT)"),
        ("keep", "a lesion injected after baseline stays in its baseline group for the group responses, "
                 "listed in injected_after_baseline"))),
    Ambiguity("T3", None, (ITRECIST,), (
        ("*", "new lesions enter the non-injected response and the overall response, never the injected "
              "response (ITR-NONINJ)"),)),
    # --- growth family: the analyses tgr and dissociated_response (criteria.growth) ---
    Ambiguity("A14", "tgr_month_days", ("tgr",), (
        ("30.4375", "TG, TGR and TGK count months of 30.4375 days (365.25 / 12)"),
        ("30", "TG, TGR and TGK count months of 30 days"))),
    Ambiguity("G1", "hpd_nonpositive_reference", ("tgr",), (
        ("undefined", "a ratio definition (Champiat, Saada-Bouzid, Kato pace) with a reference rate <= 0 "
                      "is undefined: flag null, reported (A14)"),
        ("product", "a reference rate <= 0 is read as the inequality exp >= 2 x ref"),
        ("false", "a reference rate <= 0 is not hyperprogression (no acceleration of a growing tumour)"))),
    Ambiguity("G2", "kato_pace", ("tgr",), (
        ("tgk", "Kato 2017's progression pace is the target sum change per month (TGK)"),
        ("tgr", "Kato 2017's progression pace is the tumour growth rate (TGR)"))),
    Ambiguity("G3", "dissociated_growth_reference", ("dissociated_response",), (
        ("baseline", "a growing lesion is >= dissociated_grow_pct above its baseline value"),
        ("nadir", "a growing lesion is >= dissociated_grow_pct above its own nadir"))),
    Ambiguity("G4", "dissociated_shrink_pct", ("dissociated_response",), (
        ("30", "a shrinking lesion is >= 30% below its baseline value (RECIST PR threshold per lesion)"),
        ("*", "a shrinking lesion is at least the set percentage below its baseline value"))),
    Ambiguity("G5", "dissociated_grow_pct", ("dissociated_response",), (
        ("20", "a growing lesion is >= 20% above its reference (RECIST PD threshold per lesion)"),
        ("*", "a growing lesion is at least the set percentage above its reference"))),
    Ambiguity("G6", "hyperprogression_definitions", ("tgr",), (
        (str(Settings().hyperprogression_definitions), "every published hyperprogression definition is "
                                                       "evaluated and reported by name"),
        ("*", "only the named hyperprogression definitions are evaluated"))),
)


def _value(settings: Settings, name: str) -> str:
    return str(getattr(settings, name))


def charter_note(settings: Settings, criterion: str) -> str:
    """A13: the protocol-defined intervals this result used."""
    note = (f"A13 charter settings: sd_min_days={settings.sd_min_days}, confirm_min_days="
            f"{settings.confirm_min_days}, max_ne_between_confirmation="
            f"{settings.max_ne_between_confirmation}, "
            f"accept_sd_between_pr_confirmation={str(settings.accept_sd_between_pr_confirmation).lower()}")
    if criterion == IRECIST:
        low, high = settings.irecist_confirm_window_days
        note += (f", irecist_confirm_window_days=[{low}, {high}], irecist_early_scan_tolerance_days="
                 f"{settings.irecist_early_scan_tolerance_days}")
    if criterion == IMRECIST:
        note += f", imrecist_negation_min_days={settings.imrecist_negation_min_days}"
    if criterion == IPERCIST:  # P4: the confirmation window is a charter option
        low, high = settings.ipercist_confirm_window_days
        note += f", ipercist_confirm_window_days=[{low}, {high}]"
    if criterion in _IR:
        note += f", ir_confirm_max_days={settings.ir_confirm_max_days}"
    return note


def analysis_defaults(analysis: str, settings: Settings) -> tuple[str, ...]:
    """:func:`defaults_used` for a growth-family analysis (``tgr``, ``dissociated_response``):
    its readings only, no charter note."""
    return defaults_used(analysis, settings)[:-1]


def defaults_used(criterion: str, settings: Settings, response_level: bool = False) -> tuple[str, ...]:
    """One sentence per ambiguity reading that applies to ``criterion`` under ``settings``,
    marked "default" or "set" (chosen by the input's settings). At response level only the
    endpoint readings apply (the timepoint responses were given)."""
    defaults = Settings()
    notes: list[str] = []
    for entry in AMBIGUITIES:
        if criterion not in entry.criteria or (response_level and not entry.endpoint):
            continue
        if entry.setting is None:
            notes.append(f"{entry.number} (no setting): {entry.readings[0][1]}")
            continue
        value = _value(settings, entry.setting)
        sentence = dict(entry.readings).get(value, value)
        origin = "default" if value == _value(defaults, entry.setting) else "set"
        shown = value.lower() if value in ("True", "False") else value
        notes.append(f"{entry.number} {entry.setting}={shown} ({origin}): {sentence}")
    notes.append(charter_note(settings, criterion))
    return tuple(notes)


class DefaultsCache:
    """:func:`defaults_used` results for one batch, owned by the caller (the command line
    and the benchmark make one per run): a batch usually shares one ``Settings``, and the
    sentences are the same for every subject with it. Nothing is kept at module level."""

    __slots__ = ("_last", "_notes")

    def __init__(self) -> None:
        self._notes: dict[tuple[str, Settings, bool], tuple[str, ...]] = {}
        # The Settings object last asked about and its notes per (criterion, response level):
        # subjects without settings share one Settings object, found here by identity
        # (hashing a Settings hashes all its fields).
        self._last: tuple[Settings, dict[tuple[str, bool], tuple[str, ...]]] | None = None

    def get(self, criterion: str, settings: Settings, response_level: bool = False) -> tuple[str, ...]:
        last = self._last
        if last is None or last[0] is not settings:
            last = self._last = (settings, {})
        notes = last[1].get((criterion, response_level))
        if notes is None:
            key = (criterion, settings, response_level)
            notes = self._notes.get(key)
            if notes is None:
                notes = self._notes[key] = defaults_used(criterion, settings, response_level)
            last[1][(criterion, response_level)] = notes
        return notes
