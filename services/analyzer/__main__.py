from kinesync_services.analyzer.main import run

run()
