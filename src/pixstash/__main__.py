from pixstash.cli.main import main

main()
