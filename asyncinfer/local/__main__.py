from asyncinfer.local.cli import main

raise SystemExit(main())
