"""Units: bounded parsing of unit and quantity strings, and formatting for people.
(Being written; see tests/test_units.py.)"""
