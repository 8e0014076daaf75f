"""Announcements and notifications arrive with a later issue."""
