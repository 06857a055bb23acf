"""Sponsor data transfers: SDTM TU/TR/RS, ADaM ADRS/ADTTE, SAS XPORT v5 + CSV + manifest.

Pure Python (no Django): the app maps its ORM rows to the input dataclasses of
:mod:`trialreads.exports.datasets` and calls :func:`trialreads.exports.package.write_package`.
"""
