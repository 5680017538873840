from kinesync_services.alerts.main import run

run()
