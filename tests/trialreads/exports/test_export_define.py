"""Issue 18 item 5: the transfer's Define-XML 2.1, generated from the datasets the writers
write, valid against CDISC's Define-XML 2.1 schema (tests/data/define-xml-2.1), and saying
what the files hold: every dataset and variable (in file order, with the XPT lengths), the
codelists of the values used, value-level metadata per test code, the methods with the
criteria algorithm version and the engine settings, and the origins. Before, no transfer had
a define.xml."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import export_fixtures as fx
import pyreadstat
import pytest
from lxml import etree

from trialreads.exports.define import DEFINE_NAME
from trialreads.exports.package import MANIFEST_NAME, render_study

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "define-xml-2.1" / "define" / "2.1"
SCHEMA = SCHEMA / "define2-1-0.xsd"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
CREATED = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)
SETTINGS = (("sd_min_days", "42"), ("confirm_min_days", "28"), ("ir_pd_date", "confirming"))


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def _study(**changes: object) -> object:
    subject = fx.subject(fx.R1, reference_start_date=dt.date(2024, 1, 9), first_dose_date=dt.date(2024, 1, 9))
    read = subject.reads[0]
    week6 = dataclasses.replace(read.timepoints[1], dtc="2024-02", imputation="last")
    read = dataclasses.replace(read, timepoints=(read.timepoints[0], week6, *read.timepoints[2:]))
    subject = dataclasses.replace(subject, reads=(read, *subject.reads[1:]))
    study = fx.study(subject, fx.subject(fx.R2, usubjid="TR-ONC-001-0002", death_date=dt.date(2024, 5, 1)))
    return dataclasses.replace(study, settings=SETTINGS, date_imputation="last", **changes)


def _files(study: object, parallel: bool = False) -> dict[str, bytes]:
    return render_study(study, created=CREATED, criteria_version="crit-1.4", charter_version="3",  # type: ignore[arg-type]
                        parallel=parallel)  # fmt: skip


def _values(tree: etree._ElementTree, oid: str) -> list[str]:
    found = tree.xpath(f"//odm:CodeList[@OID='{oid}']/odm:EnumeratedItem/@CodedValue", namespaces=NS)
    return [str(v) for v in found]


def test_define_xml_is_in_the_transfer_and_valid_against_the_schema(schema: etree.XMLSchema) -> None:
    files = _files(_study())
    manifest = json.loads(files[MANIFEST_NAME])
    assert DEFINE_NAME in {f["path"] for f in manifest["files"]}
    tree = etree.ElementTree(etree.fromstring(files[DEFINE_NAME]))
    assert schema.validate(tree), schema.error_log
    assert _files(_study(), parallel=True)[DEFINE_NAME] == files[DEFINE_NAME]  # deterministic, either way


def test_the_schema_refuses_a_broken_define(schema: etree.XMLSchema) -> None:
    """The validation is not vacuous: the same file without def:Context, or with an unknown
    origin type, is refused."""
    root = etree.fromstring(_files(_study())[DEFINE_NAME])
    del root.attrib["{http://www.cdisc.org/ns/def/v2.1}Context"]
    assert not schema.validate(etree.ElementTree(root))
    root = etree.fromstring(_files(_study())[DEFINE_NAME])
    root.xpath("//def:Origin", namespaces=NS)[0].set("Type", "Measured")
    assert not schema.validate(etree.ElementTree(root))


def test_every_dataset_and_variable_as_in_the_files(tmp_path: Path) -> None:
    files = _files(_study(epoch_rule="screening_treatment"))
    tree = etree.ElementTree(etree.fromstring(files[DEFINE_NAME]))
    datasets = [d["name"] for d in json.loads(files[MANIFEST_NAME])["datasets"]]
    groups = tree.xpath("//odm:ItemGroupDef", namespaces=NS)
    assert [g.get("Name") for g in groups] == datasets == ["TU", "TR", "RS", "ADSL", "ADRS", "ADTTE"]
    for group in groups:
        name = group.get("Name")
        (tmp_path / f"{name.lower()}.xpt").write_bytes(files[f"{name.lower()}.xpt"])
        _, meta = pyreadstat.read_xport(str(tmp_path / f"{name.lower()}.xpt"), metadataonly=True,
                                        output_format="dict")  # fmt: skip
        refs = [r.get("ItemOID") for r in group.xpath("odm:ItemRef", namespaces=NS)]
        assert refs == [f"IT.{name}.{column}" for column in meta.column_names], name
        xlink = {**NS, "xlink": "http://www.w3.org/1999/xlink"}
        assert group.xpath("def:leaf/@xlink:href", namespaces=xlink) == [f"{name.lower()}.xpt"]
        for column, label in zip(meta.column_names, meta.column_labels, strict=True):
            item = tree.xpath(f"//odm:ItemDef[@OID='IT.{name}.{column}']", namespaces=NS)[0]
            assert item.xpath("odm:Description/odm:TranslatedText/text()", namespaces=NS) == [label]
            if item.get("DataType") in ("date", "partialDate"):  # ISO 8601 text: no Length in Define-XML
                assert column.endswith("DTC") and item.get("Length") is None
            elif meta.readstat_variable_types[column] == "string":
                assert int(item.get("Length")) == meta.variable_storage_width[column], (name, column)
    adtte = tree.xpath("//odm:ItemGroupDef[@Name='ADTTE']/def:Class", namespaces=NS)[0]
    assert adtte.get("Name") == "BASIC DATA STRUCTURE"
    assert adtte.xpath("def:SubClass/@Name", namespaces=NS) == ["TIME-TO-EVENT"]
    # --DY and EPOCH are described with the method naming the charter's epoch rule.
    assert tree.xpath("//odm:ItemDef[@OID='IT.TR.TRDY']/@DataType", namespaces=NS) == ["integer"]
    epoch = tree.xpath("//odm:MethodDef[@OID='MT.EPOCH']//odm:TranslatedText/text()", namespaces=NS)[0]
    assert "screening_treatment" in epoch
    assert _values(tree, "CL.TR.EPOCH") == ["SCREENING", "TREATMENT"]


def test_codelists_value_levels_methods_and_origins_say_what_the_data_hold() -> None:
    study = _study()
    tree = etree.ElementTree(etree.fromstring(_files(study)[DEFINE_NAME]))
    # Codelists of the values used, with the NCI codes of the terms.
    assert _values(tree, "CL.TR.TRTESTCD") == ["LDIAM", "LPERP", "SUMDIAM", "TUMSTATE"]
    assert tree.xpath("//odm:CodeList[@OID='CL.TR.TRTESTCD']/odm:Alias/@Name", namespaces=NS) == ["C96779"]
    ldiam = "//odm:CodeList[@OID='CL.TR.TRTESTCD']/odm:EnumeratedItem[@CodedValue='LDIAM']/odm:Alias/@Name"
    assert tree.xpath(ldiam, namespaces=NS) == ["C96684"]
    assert _values(tree, "CL.RS.RSCAT") == ["RECIST 1.1", "iRECIST"]
    assert _values(tree, "CL.RS.RSEVALID") == ["RADIOLOGIST 1", "RADIOLOGIST 2"]  # no adjudication here
    # Value-level metadata: one per TR test code, with its unit and data type.
    where = tree.xpath("//def:WhereClauseDef[starts-with(@OID, 'WC.TR.TRSTRESN.')]//odm:CheckValue/text()",
                       namespaces=NS)  # fmt: skip
    assert sorted(where) == ["LDIAM", "LPERP", "SUMDIAM"]
    described = tree.xpath("//odm:ItemDef[starts-with(@OID, 'IT.TR.TRSTRESN.')]//odm:TranslatedText/text()",
                           namespaces=NS)  # fmt: skip
    assert "TRSTRESN where TRTESTCD = LPERP (in mm)" in described
    states = next(
        oid for oid in tree.xpath("//odm:CodeList/@OID", namespaces=NS)
        if oid.startswith("CL.TR.TRSTRESC.") and "PRESENT" in _values(tree, oid)
    )  # fmt: skip
    assert _values(tree, states) == ["PRESENT"]
    rs_levels = tree.xpath("//def:WhereClauseDef[starts-with(@OID, 'WC.RS.RSSTRESC.')]", namespaces=NS)
    assert len(rs_levels) == 2 * 5  # 2 categories x TRGRESP, NTRGRESP, NEWLPROG, OVRLRESP, BESTRESP
    # The methods name the algorithm version, the charter, the criteria and the settings.
    response = tree.xpath("string(//odm:MethodDef[@OID='MT.RS.RESPONSE'])", namespaces=NS)
    assert "algorithm version crit-1.4" in response and "charter version 3" in response
    assert "RECIST 1.1 (recist1.1), iRECIST (irecist)" in response
    assert "sd_min_days=42; confirm_min_days=28; ir_pd_date=confirming" in response
    adt = tree.xpath("//odm:MethodDef[@OID='MT.ADT']", namespaces=NS)[0]
    assert adt.get("Type") == "Imputation" and "charter's rule last" in adt.xpath("string(.)")
    cnsr = tree.xpath("string(//odm:MethodDef[@OID='MT.ADTTE.CNSR'])", namespaces=NS)
    assert "CNSR 5 NEW ANTICANCER THERAPY BEFORE PD" in cnsr and "CNSR 1" in cnsr

    # Origins: the readers' measurements collected by the review, the subject dates from the
    # sponsor, responses derived, AVISIT a predecessor.
    def origin_of(oid: str) -> tuple[str | None, str | None]:
        found = tree.xpath(f"//odm:ItemDef[@OID='{oid}']/def:Origin", namespaces=NS)[0]
        return found.get("Type"), found.get("Source")

    assert origin_of("IT.TR.TRORRES") == ("Collected", "Vendor")
    assert origin_of("IT.ADSL.RANDDT") == ("Collected", "Sponsor")
    assert origin_of("IT.RS.RSSTRESC") == ("Derived", "Vendor")
    assert origin_of("IT.ADRS.AVISIT") == ("Predecessor", None)
    assert origin_of("IT.TU.STUDYID") == ("Assigned", "Vendor")
    assert tree.xpath("//odm:ItemDef[@OID='IT.TR.TRDTC']/@DataType", namespaces=NS) == ["partialDate"]
    assert tree.xpath("//odm:ItemDef[@OID='IT.ADRS.ADT']/@def:DisplayFormat", namespaces=NS) == ["DATE9."]
