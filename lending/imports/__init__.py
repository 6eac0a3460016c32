"""Bulk import of borrowers, loans and payments from CSV and XLSX files, and the admin's exports.

files.py reads a file into rows of text; payments.py, borrowers.py and loans.py validate and apply them
(the whole file or nothing) and return an ImportReport (report.py); admin_views.py is the admin's Import
button and Export actions; `manage.py import_payments` posts the daily bank file.
"""
