"""A stand-in for the desktop portal's Settings interface on the test's private D-Bus
session (the real xdg-desktop-portal needs a full desktop session): it answers
`Read("org.freedesktop.appearance", "color-scheme")` with the scheme given, and on a line
`dark`/`light` on stdin emits `SettingChanged` and answers with the new one. Run with the
system Python (GTK's bindings): `fake_portal.py dark`."""

import sys
import threading

from gi.repository import Gio, GLib

XML = """<node><interface name="org.freedesktop.portal.Settings">
  <method name="Read"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="v" direction="out"/></method>
  <signal name="SettingChanged"><arg type="s"/><arg type="s"/><arg type="v"/></signal>
</interface></node>"""
PATH = "/org/freedesktop/portal/desktop"
SCHEMES = {"none": 0, "dark": 1, "light": 2}
state = {"scheme": SCHEMES[sys.argv[1]]}
loop = GLib.MainLoop()


def on_call(conn, sender, path, iface, method, params, invocation):
    ns, key = params.unpack()
    if (ns, key) == ("org.freedesktop.appearance", "color-scheme"):
        value = GLib.Variant("v", GLib.Variant("u", state["scheme"]))
        invocation.return_value(GLib.Variant.new_tuple(value))
    else:
        invocation.return_dbus_error("org.freedesktop.portal.Error.NotFound", "no such setting")


def on_bus(conn, name):
    node = Gio.DBusNodeInfo.new_for_xml(XML)
    conn.register_object(PATH, node.interfaces[0], on_call, None, None)

    def read_stdin():
        for line in sys.stdin:
            scheme = SCHEMES[line.strip()]

            def emit():
                state["scheme"] = scheme
                conn.emit_signal(None, PATH, "org.freedesktop.portal.Settings", "SettingChanged",
                                 GLib.Variant("(ssv)", ("org.freedesktop.appearance", "color-scheme", GLib.Variant("u", scheme))))
                print("changed", flush=True)
                return False

            GLib.idle_add(emit)
        GLib.idle_add(loop.quit)

    threading.Thread(target=read_stdin, daemon=True).start()


def on_name(conn, name):
    print("ready", flush=True)


Gio.bus_own_name(Gio.BusType.SESSION, "org.freedesktop.portal.Desktop", Gio.BusNameOwnerFlags.NONE, on_bus, on_name, lambda *a: loop.quit())
loop.run()
