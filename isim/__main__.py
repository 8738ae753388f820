from isim.cli import main

main()
