"""Study configs as files: checked TOML tables, TOML text, and import strings of user code."""
