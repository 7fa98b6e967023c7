from labtool.cli import main

raise SystemExit(main())
