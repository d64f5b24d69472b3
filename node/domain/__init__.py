"""The one-stop domain core: dossiers, workflow, codes, deadlines (stdlib and data libraries only).

Nothing here imports flask, peewee, requests, zeroconf or cryptography
(``tests/test_architecture.py`` enforces it); time is passed in as ``now``.
"""
