"""triage: takes over the first hour of a complaints team's day.

Reads the team inbox over IMAP, classifies each message, matches it to a case,
records it with its raw bytes, drafts a reply and files it. See pipeline.py
for the conveyor and design notes in the README.
"""

__version__ = "0.1.0"
