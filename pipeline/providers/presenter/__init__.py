"""Presenter providers: `none` (no presenter), `anchor` (a news anchor drawn by code), `sprites` (your own)."""
