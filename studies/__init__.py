"""Runnable studies: TOML files and the scripts that launch them."""
