"""Stand-ins for the desktop services the end-to-end tests observe, on the test's private
session bus:

- org.freedesktop.Notifications: every Notify call is appended to RECORD_FILE (its id, the
  id it replaces, its action keys and its sound hint too); a line `{"id": N, "action": KEY}`
  appended to INVOKE_FILE presses that button of notification N (an ActionInvoked signal,
  as a notification server sends when the user clicks);
- org.kde.StatusNotifierWatcher: the tray item that registers is polled, and each change of
  its label or icon is appended to TRAY_FILE.

Usage: python fake_notifications.py RECORD_FILE TRAY_FILE INVOKE_FILE
"""

import asyncio
import json
import sys

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method, signal


class Notifications(ServiceInterface):
    def __init__(self, record):
        super().__init__("org.freedesktop.Notifications")
        self.record = record
        self.next_id = 0

    @method()
    def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s", summary: "s", body: "s",  # noqa: F821
               actions: "as", hints: "a{sv}", expire_timeout: "i") -> "u":  # noqa: F821
        # A replacement keeps the id it replaces, as the specification says.
        if replaces_id == 0:
            self.next_id += 1
        nid = replaces_id or self.next_id
        sound = hints.get("sound-name")
        with open(self.record, "a") as out:
            out.write(json.dumps({"app": app_name, "summary": summary, "body": body, "id": nid,
                                  "replaces_id": replaces_id, "actions": list(actions),
                                  "sound": sound.value if sound else None}) + "\n")
        return nid

    @method()
    def GetCapabilities(self) -> "as":  # noqa: F821
        return ["body", "actions", "sound"]

    @method()
    def GetServerInformation(self) -> "ssss":  # noqa: F821
        return ["gatewatch-test", "gatewatch", "1", "1.2"]

    @method()
    def CloseNotification(self, id: "u"):  # noqa: F821
        pass

    @signal()
    def ActionInvoked(self, press) -> "us":  # noqa: F821
        return press


class Watcher(ServiceInterface):
    def __init__(self):
        super().__init__("org.kde.StatusNotifierWatcher")
        self.items = []

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):  # noqa: F821
        pass  # the sender is taken from the raw message (see main)

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):  # noqa: F821
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":  # noqa: F821
        return [f"{sender}{path}" for sender, path in self.items]

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":  # noqa: F821
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":  # noqa: F821
        return 0

    @signal()
    def StatusNotifierItemRegistered(self) -> "s":  # noqa: F821
        return ""

    @signal()
    def StatusNotifierHostRegistered(self):
        pass


async def poll_tray(bus, watcher, record):
    last = None
    while True:
        await asyncio.sleep(0.2)
        for sender, path in list(watcher.items):
            reply = await bus.call(Message(destination=sender, path=path, interface="org.freedesktop.DBus.Properties",
                                           member="GetAll", signature="s", body=["org.kde.StatusNotifierItem"]))
            if reply.message_type != MessageType.METHOD_RETURN:
                continue
            props = {k: (v.value if isinstance(v, Variant) else v) for k, v in reply.body[0].items()}
            state = {"label": props.get("XAyatanaLabel", ""), "icon": props.get("IconName", ""), "title": props.get("Title", "")}
            if state != last:
                last = state
                with open(record, "a") as out:
                    out.write(json.dumps(state) + "\n")


async def press_buttons(notifications, invoke_file):
    """Emits ActionInvoked for each line appended to `invoke_file`."""
    done = 0
    while True:
        await asyncio.sleep(0.2)
        try:
            with open(invoke_file) as lines:
                presses = [json.loads(line) for line in lines if line.strip()]
        except FileNotFoundError:
            continue
        for press in presses[done:]:
            notifications.ActionInvoked([press["id"], press["action"]])
        done = len(presses)


async def main(notifications_file, tray_file, invoke_file):
    bus = await MessageBus().connect()
    watcher = Watcher()

    def on_message(msg):
        if msg.member == "RegisterStatusNotifierItem" and msg.interface == "org.kde.StatusNotifierWatcher":
            path = msg.body[0] if msg.body and str(msg.body[0]).startswith("/") else "/StatusNotifierItem"
            watcher.items.append((msg.sender, path))
        return None

    bus.add_message_handler(on_message)
    notifications = Notifications(notifications_file)
    bus.export("/org/freedesktop/Notifications", notifications)
    bus.export("/StatusNotifierWatcher", watcher)
    await bus.request_name("org.freedesktop.Notifications")
    await bus.request_name("org.kde.StatusNotifierWatcher")
    print("ready", flush=True)
    await asyncio.gather(poll_tray(bus, watcher, tray_file), press_buttons(notifications, invoke_file))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
