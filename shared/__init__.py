"""Paper-agnostic plumbing shared by every package under ``papers/``.

Read in this order: ``config`` (presets and ``--set``), ``seed``, ``device``,
``checkpoint``, ``distributed``, ``trainer``, ``data`` (registry and file formats),
``metrics``, ``profiling``, ``report`` and ``cli`` (which ties a run together).
No paper's math lives here.
"""
