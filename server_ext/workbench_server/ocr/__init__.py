"""Receipts and vendor bills to Odoo expenses: OCR, field extraction, matching, review.

Roles: :mod:`.engines` reads text off a document (offline RapidOCR by default, or the
company's OCR service over HTTP), :mod:`.extract` finds the fields with a confidence
each, :mod:`.odoo_expenses` matches them in Odoo and creates the ``hr.expense`` with the
document attached, :mod:`.flow` runs a document through all of it and keeps bronze
(file, hash, raw OCR) and silver (fields, status, Odoo ids) in the lake.
"""
