from kinesync_services.api.main import run

run()
