//! Getting a wgpu device, with or without a window, and reading a rendered
//! texture back.

use crate::RenderError;
use parking_lot::Mutex;
use std::sync::Arc;

/// An adapter, its device and queue.
pub struct Gpu {
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Gpu {
    /// A device with no window (tests, `kh render`): any adapter, a
    /// software one (lavapipe) included.
    pub fn headless() -> Result<Gpu, RenderError> {
        let from_env = wgpu::InstanceDescriptor::new_without_display_handle_from_env;
        if std::env::var_os("WGPU_BACKEND").is_some() {
            return Self::with_instance(wgpu::Instance::new(from_env()), None);
        }
        // The native APIs (Vulkan, Metal, D3D12) first: initialising GL's
        // EGL to look for an adapter logs errors and makes Mesa print
        // "XDG_RUNTIME_DIR is invalid" on a machine without a session, for
        // nothing when a native adapter (lavapipe included) is there.
        let mut native = from_env();
        native.backends = wgpu::Backends::PRIMARY;
        match Self::with_instance(wgpu::Instance::new(native), None) {
            Ok(gpu) => Ok(gpu),
            Err(_) => Self::with_instance(wgpu::Instance::new(from_env()), None),
        }
    }

    /// A device able to present to `surface`.
    pub fn with_instance(
        instance: wgpu::Instance,
        surface: Option<&wgpu::Surface<'_>>,
    ) -> Result<Gpu, RenderError> {
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: surface,
            apply_limit_buckets: false,
        }))
        .map_err(|e| RenderError::Gpu(format!("no GPU adapter: {e}")))?;
        // Ask for what the adapter has: large texture arrays let the tile
        // cache hold more tiles.
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("kakehashi"),
            required_features: wgpu::Features::empty(),
            required_limits: limits,
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| RenderError::Gpu(format!("could not open the GPU device: {e}")))?;
        // wgpu's default panics on a validation error; a viewer must log it
        // and keep the call going (the console restarts a broken viewer).
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            tracing::error!("GPU error: {e}");
            sink.lock().push(e.to_string());
        }));
        Ok(Gpu {
            instance,
            adapter,
            device,
            queue,
            errors,
        })
    }

    /// GPU errors reported since the last call (validation, out of memory).
    pub fn take_errors(&self) -> Vec<String> {
        std::mem::take(&mut *self.errors.lock())
    }

    /// One line naming the adapter and backend (diagnostics, benchmarks).
    pub fn describe(&self) -> String {
        let info = self.adapter.get_info();
        format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
    }
}

/// Every adapter wgpu finds on this machine, on every backend (what
/// `kh doctor` lists; `WGPU_BACKEND` narrows it as it does for the viewer).
pub fn adapter_infos() -> Vec<wgpu::AdapterInfo> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|adapter| adapter.get_info())
        .collect()
}

/// Copy an RGBA8 texture to memory: rows packed, `width * 4` bytes each.
pub fn read_texture(gpu: &Gpu, texture: &wgpu::Texture) -> Result<Vec<u8>, RenderError> {
    let (width, height) = (texture.width(), texture.height());
    let row_bytes = width * 4;
    let padded_row =
        row_bytes.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: u64::from(padded_row) * u64::from(height),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("readback"),
        });
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded_row),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
    );
    gpu.queue.submit([encoder.finish()]);
    let slice = buffer.slice(..);
    let (send, receive) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        // The receiver waits below; if it is gone there is no one to tell.
        let _ = send.send(result);
    });
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| RenderError::Gpu(format!("waiting for the GPU: {e}")))?;
    receive
        .recv()
        .map_err(|_| RenderError::Gpu("the readback was dropped".into()))?
        .map_err(|e| RenderError::Gpu(format!("mapping the readback: {e}")))?;
    let mapped = slice
        .get_mapped_range()
        .map_err(|e| RenderError::Gpu(format!("mapping the readback: {e}")))?;
    let mut pixels = Vec::with_capacity(row_bytes as usize * height as usize);
    for row in mapped.chunks_exact(padded_row as usize) {
        pixels.extend_from_slice(&row[..row_bytes as usize]);
    }
    Ok(pixels)
}
