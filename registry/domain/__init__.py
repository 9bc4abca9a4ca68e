"""The pure-Python core: model, validation, extensions, resolution, YAML, service.

Nothing here imports Flask, WTForms, peewee or Jinja (a test enforces it).
"""
