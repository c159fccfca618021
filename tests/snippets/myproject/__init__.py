"""The placeholder project of docs/integrations.md (`myproject.data`), made real for tests/test_snippets.py."""
