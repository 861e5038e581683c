"""Allow ``python -m llmchat_tui``."""

from llmchat_tui.cli import main

raise SystemExit(main())
