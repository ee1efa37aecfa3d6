"""A stand-in desktop notification service for the end-to-end tests.

It owns org.freedesktop.Notifications on the test's private session bus and appends every
Notify call to a JSON-lines file, so a test can count exactly what the app announced.
Usage: python fake_notifications.py RECORD_FILE
"""

import asyncio
import json
import sys

from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method


class Notifications(ServiceInterface):
    def __init__(self, record):
        super().__init__("org.freedesktop.Notifications")
        self.record = record
        self.next_id = 0

    @method()
    def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s", summary: "s", body: "s",  # noqa: F821
               actions: "as", hints: "a{sv}", expire_timeout: "i") -> "u":  # noqa: F821
        self.next_id += 1
        with open(self.record, "a") as out:
            out.write(json.dumps({"app": app_name, "summary": summary, "body": body}) + "\n")
        return self.next_id

    @method()
    def GetCapabilities(self) -> "as":  # noqa: F821
        return ["body"]

    @method()
    def GetServerInformation(self) -> "ssss":  # noqa: F821
        return ["gatewatch-test", "gatewatch", "1", "1.2"]

    @method()
    def CloseNotification(self, id: "u"):  # noqa: F821
        pass


async def main(record):
    bus = await MessageBus().connect()
    bus.export("/org/freedesktop/Notifications", Notifications(record))
    await bus.request_name("org.freedesktop.Notifications")
    print("ready", flush=True)
    await asyncio.get_running_loop().create_future()


asyncio.run(main(sys.argv[1]))
