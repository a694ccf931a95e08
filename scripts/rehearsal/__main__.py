"""``python -m scripts.rehearsal``, run by scripts/deploy-rehearsal from the checkout's root."""

from __future__ import annotations

from scripts.rehearsal.rehearse import main

raise SystemExit(main())
