from dq.cli import main

raise SystemExit(main())
