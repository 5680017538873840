from kinesync_services.gateway.main import run

run()
