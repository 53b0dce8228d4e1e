#!/usr/bin/env python
"""The Django original's manage.py (a minimal stand-in for django_project)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "original.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
