from kinesync_services.writer.main import run

run()
