"""Digitization rates against the targets of plan 4521/QĐ-UBND: the whole feature in one package.

- :mod:`~rates.targets`: the target schedules, kept as data;
- :mod:`~rates.model`: the figures, pure computation on plain data;
- :mod:`~rates.inventory`: the CSV import of issued results and the office registry;
- :mod:`~storage.summary_schema`: the summary's tables and triggers (catalog schema version 2);
- :mod:`~rates.summary`: the summary counted in bulk, and recounted as the check;
- :mod:`~rates.queries`: the report's queries over the catalog;
- :mod:`~rates.tables`, :mod:`~rates.html`: the report as tables (text, CSV, JSON)
  and as one printable HTML page.

Dependencies run one way: the edges (CLI, flows) use this package; it uses
the catalog (:mod:`storage.catalog`) and the kernel. The catalog takes the
summary's migration from :mod:`~storage.summary_schema`, which imports
nothing of the project but the pace window: this file imports nothing, so
that taking it does not load the rest.
"""
