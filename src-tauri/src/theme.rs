//! Dark mode that follows the desktop. WebKitGTK does not pass the desktop's preference on to
//! the page, so on Linux the app asks the desktop portal (`org.freedesktop.appearance`
//! `color-scheme`: 1 prefers dark, 2 prefers light, 0 no preference), follows its changes,
//! and the window sets its theme from the answer. Without a portal (or with no preference),
//! the page's own `prefers-color-scheme` applies.

use tauri::{AppHandle, Emitter, Runtime};

/// The event a change of the desktop's preference is sent as.
pub const THEME_EVENT: &str = "stowage://theme";

/// `dark`, `light`, or None (no preference, or nobody to ask).
pub fn current() -> Option<&'static str> {
    name(portal::read()?)
}

fn name(scheme: u32) -> Option<&'static str> {
    match scheme {
        1 => Some("dark"),
        2 => Some("light"),
        _ => None,
    }
}

/// Tell the window when the desktop's preference changes (call on the main thread: the
/// portal's signals arrive on its main loop).
pub fn follow<R: Runtime>(handle: &AppHandle<R>) {
    let handle = handle.clone();
    portal::watch(move |scheme| {
        let _ = handle.emit_to("main", THEME_EVENT, name(scheme));
    });
}

#[cfg(target_os = "linux")]
mod portal {
    use gio::prelude::*;

    const NAME: &str = "org.freedesktop.portal.Desktop";
    const PATH: &str = "/org/freedesktop/portal/desktop";
    const SETTINGS: &str = "org.freedesktop.portal.Settings";
    const NAMESPACE: &str = "org.freedesktop.appearance";
    const KEY: &str = "color-scheme";

    fn bus() -> Option<gio::DBusConnection> {
        gio::bus_get_sync(gio::BusType::Session, gio::Cancellable::NONE).ok()
    }

    /// The value inside however many variants the portal wrapped it in.
    fn unwrap(mut v: glib::Variant) -> Option<u32> {
        while let Some(inner) = v.as_variant() {
            v = inner;
        }
        v.get::<u32>()
    }

    pub fn read() -> Option<u32> {
        let reply = bus()?
            .call_sync(
                Some(NAME),
                PATH,
                SETTINGS,
                "Read",
                Some(&(NAMESPACE, KEY).to_variant()),
                None,
                gio::DBusCallFlags::NONE,
                2000,
                gio::Cancellable::NONE,
            )
            .ok()?;
        unwrap(reply.child_value(0))
    }

    pub fn watch(on_change: impl Fn(u32) + 'static) {
        let Some(bus) = bus() else { return };
        bus.signal_subscribe(
            None,
            Some(SETTINGS),
            Some("SettingChanged"),
            Some(PATH),
            Some(NAMESPACE),
            gio::DBusSignalFlags::NONE,
            move |_, _, _, _, _, params| {
                if params.n_children() == 3 && params.child_value(1).str() == Some(KEY) {
                    if let Some(scheme) = unwrap(params.child_value(2)) {
                        on_change(scheme);
                    }
                }
            },
        );
        // The subscription lives as long as the connection: the app's whole life.
        std::mem::forget(bus);
    }
}

#[cfg(not(target_os = "linux"))]
mod portal {
    // The platform's WebView follows the system's setting itself.
    pub fn read() -> Option<u32> {
        None
    }

    pub fn watch(_: impl Fn(u32) + 'static) {}
}
