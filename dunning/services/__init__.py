"""Writes for collections, one module per topic: guardrails (the contact check), cases (the collector's and
supervisor's work), approvals, policies, the nightly run and the dispatch of automatic reminders."""
