from cgkit.cli import main

raise SystemExit(main())
