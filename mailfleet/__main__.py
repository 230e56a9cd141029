from mailfleet.cli.app import main

main()
