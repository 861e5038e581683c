"""Widgets of the main screen. None of them imports the app module."""
