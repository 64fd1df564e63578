"""A GTK3 window that offers file URIs as a drag source: the real X11 drag tests drag from it
onto the app's window with xdotool."""

import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gtk  # noqa: E402

x, y, uris = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
win = Gtk.Window(title="stowage-drag-source")
win.set_default_size(200, 120)
win.move(x, y)
button = Gtk.Button(label="drag me")
win.add(button)
button.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
button.drag_source_add_uri_targets()
button.connect("drag-data-get", lambda _w, _c, data, _i, _t: data.set_uris(uris))
button.connect("drag-end", lambda *_: Gtk.main_quit())
win.connect("destroy", Gtk.main_quit)
win.connect("map-event", lambda *_: print("ready", flush=True))
win.show_all()
Gtk.main()
