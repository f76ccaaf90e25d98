"""Injected faults: what the Emulator blade and `/emulator/faults` make go wrong on purpose.

- kinds.py     the fault families: their scope kinds, parameters (bounded) and Azure's wording
- models.py    Fault: one injected fault, its scope (an ARM-style id), window, probability, who and when
- services.py  inject, clear, and `active` / `active_for`: what the hub, the appliance API and the
               portal ask while they work (the only way other apps read faults)
- portal.py    the Faults tab of the Emulator blade;  api.py: `/emulator/faults` (admin token)

A layer below `replication`: replication asks "is this fault active for these scopes?" and behaves so
(or tells its appliance and agents, who behave so); faults never names replication's models.
"""
