// SPDX-License-Identifier: GPL-2.0

//! A small safe abstraction over bus notifiers (`bus_register_notifier()`), which the kernel
//! crate does not have.

use kernel::{
    bindings,
    device::Device,
    error::to_result,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
    sync::Arc,
    types::Opaque,
};

/// What happened to a device on the bus (the subset of `BUS_NOTIFY_*` this driver needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BusEvent {
    /// A driver is about to be bound; nothing has been mapped yet.
    BindDriver,
    /// A driver bound successfully.
    BoundDriver,
    /// A driver was unbound.
    UnboundDriver,
    /// Binding a driver failed.
    DriverNotBound,
}

impl BusEvent {
    fn from_raw(action: c_ulong) -> Option<Self> {
        let action = u32::try_from(action).ok()?;
        Some(match action {
            bindings::bus_notifier_event_BUS_NOTIFY_BIND_DRIVER => Self::BindDriver,
            bindings::bus_notifier_event_BUS_NOTIFY_BOUND_DRIVER => Self::BoundDriver,
            bindings::bus_notifier_event_BUS_NOTIFY_UNBOUND_DRIVER => Self::UnboundDriver,
            bindings::bus_notifier_event_BUS_NOTIFY_DRIVER_NOT_BOUND => Self::DriverNotBound,
            _ => return None,
        })
    }
}

/// Receives the events of one bus.
pub(crate) trait BusEvents: Send + Sync {
    /// Called for each event, in process context with the device lock held for the driver
    /// events; must not bind or unbind drivers.
    fn event(&self, event: BusEvent, dev: &Device);
}

/// A registration on a bus's notifier chain, removed on drop.
#[pin_data(PinnedDrop)]
pub(crate) struct BusNotifier<T: BusEvents> {
    handler: Arc<T>,
    bus: &'static bindings::bus_type,
    #[pin]
    nb: Opaque<bindings::notifier_block>,
}

// SAFETY: the notifier block is only touched by the notifier core under its own lock; the
// handler is `Send + Sync`.
unsafe impl<T: BusEvents> Send for BusNotifier<T> {}
// SAFETY: as above; `&BusNotifier` exposes nothing mutable.
unsafe impl<T: BusEvents> Sync for BusNotifier<T> {}

impl<T: BusEvents + 'static> BusNotifier<T> {
    /// Registers `handler` for the events of `bus`.
    pub(crate) fn new(
        bus: &'static bindings::bus_type,
        handler: Arc<T>,
    ) -> impl PinInit<Self, Error> {
        let bus_ptr = core::ptr::from_ref(bus);
        try_pin_init!(Self {
            handler,
            bus,
            // `handler` is initialised before this field, so it is there for the first call.
            nb <- Opaque::try_ffi_init(move |slot: *mut bindings::notifier_block| {
                // SAFETY: `slot` is valid for writes and pinned: it stays at this address until
                // `drop` unregisters it.
                unsafe {
                    slot.write(bindings::notifier_block {
                        notifier_call: Some(Self::call),
                        next: core::ptr::null_mut(),
                        priority: 0,
                    });
                    to_result(bindings::bus_register_notifier(bus_ptr, slot))
                }
            }),
        })
    }

    /// The `notifier_call` of the block.
    ///
    /// # Safety
    ///
    /// Only the notifier core calls this, with `nb` pointing to the `nb` field of a registered
    /// `Self` and, for bus events, `data` pointing to the device.
    // SAFETY: the contract above holds for every call: `new` registers this function only in
    // the block embedded in `Self`, on a bus notifier chain.
    unsafe extern "C" fn call(
        nb: *mut bindings::notifier_block,
        action: c_ulong,
        data: *mut c_void,
    ) -> c_int {
        if let Some(event) = BusEvent::from_raw(action) {
            // SAFETY: `nb` is the `nb` field of a live, registered `Self` (it is unregistered
            // before `Self` goes away), and every field before it is initialised.
            let this = unsafe { &*kernel::container_of!(Opaque::cast_from(nb), Self, nb) };
            // SAFETY: for bus events `data` is the device, which the bus keeps alive during the
            // call.
            let dev = unsafe { Device::from_raw(data.cast()) };
            this.handler.event(event, dev);
        }
        bindings::NOTIFY_DONE as c_int
    }
}

#[pinned_drop]
impl<T: BusEvents> PinnedDrop for BusNotifier<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `nb` was registered on `bus` in `new`. After this returns no call is running
        // or will start (the chain is protected by an rwsem), so `self` may go away.
        unsafe { bindings::bus_unregister_notifier(self.bus, self.nb.get()) };
    }
}
