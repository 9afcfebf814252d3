from kubeproof.cli.main import main

main()
