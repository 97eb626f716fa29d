"""An aiortc peer for the call interoperability test, written from
docs/signalling.md: joins a room, calls (or answers) whoever is there,
sends colour bars and an 880 Hz tone, reads the stamp kh-media burns into
each received frame, measures the pitch it hears, answers pings on
`control`, moves a pointer on `pointer`, and prints what it saw as one JSON
object on stdout.

usage: aiortc_peer.py WS_URL TOKEN SECONDS [hostile]

`hostile`: once `control` is open, also open a second channel labelled
`control` (which must not displace the first) and flood: pongs to no ping,
a ping storm, messages over `control`'s and `pointer`'s sizes, a pointer
storm; then go on calling as before. Its own pings' pongs after the flood
are counted apart (`pong_rtts_after_flood`).
"""

import asyncio
import fractions
import json
import sys
import time

import numpy as np
import websockets
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame, VideoFrame

RESULT = {
    "joined": False, "states": [], "frames": 0, "stamps": [], "latencies": [],
    "audio_frames": 0, "audio_hz": None, "pointer_received": 0,
    "control_received": 0, "pong_rtts": [], "video_codec": None, "errors": [],
    "flooded": False, "pong_rtts_after_flood": 0,
}

FLOOD = 5000


def crc8(data):
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def read_stamp(luma):
    """crates/media/src/stamp.rs, read back: 2 rows of 44 blocks."""
    height, width = luma.shape
    side = width // 44
    if side < 4 or side * 4 > height:
        return None
    inset = side // 4
    bits = []
    for row in range(2):
        for col in range(44):
            block = luma[row * side + inset:(row + 1) * side - inset,
                         col * side + inset:(col + 1) * side - inset]
            bits.append(1 if block.mean() > 125 else 0)
    field = lambda start, n: int("".join(map(str, bits[start:start + n])), 2)
    if field(0, 4) != 0b1010:
        return None
    counter, captured, crc = field(4, 32), field(36, 44), field(80, 8)
    payload = counter.to_bytes(4, "big") + captured.to_bytes(6, "big")
    if crc8(payload) != crc:
        return None
    return counter, captured


class Bars(VideoStreamTrack):
    """Colour bars that slide sideways, 640x360 at 30 fps."""

    def __init__(self):
        super().__init__()
        x = np.arange(640)
        colours = np.array([[191, 191, 191], [191, 191, 0], [0, 191, 191], [0, 191, 0],
                            [191, 0, 191], [191, 0, 0], [0, 0, 191], [0, 0, 0]], np.uint8)
        self.row = colours[(x // 80) % 8]
        self.n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        row = np.roll(self.row, self.n * 4, axis=0)
        self.n += 1
        frame = VideoFrame.from_ndarray(np.repeat(row[None], 360, axis=0), format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(AudioStreamTrack):
    """880 Hz, mono, 20 ms frames."""

    def __init__(self):
        super().__init__()
        self.sample = 0

    async def recv(self):
        await super().recv()  # paces at 20 ms (its silent frame is 8 kHz)
        n = 960
        t = (self.sample + np.arange(n)) / 48000
        pts = self.sample
        self.sample += n
        pcm = (np.sin(2 * np.pi * 880 * t) * 8000).astype(np.int16)
        out = AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        out.sample_rate, out.pts, out.time_base = 48000, pts, fractions.Fraction(1, 48000)
        return out


async def read_video(track):
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        RESULT["frames"] += 1
        luma = frame.to_ndarray(format="gray")
        stamp = read_stamp(luma)
        if stamp:
            RESULT["stamps"].append(stamp[0])
            RESULT["latencies"].append(int(time.time() * 1000) - stamp[1])


async def read_audio(track):
    heard = []
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            break
        RESULT["audio_frames"] += 1
        pcm = frame.to_ndarray().astype(np.float64)
        heard.append(pcm.reshape(-1, len(frame.layout.channels))[:, 0])
        if RESULT["audio_frames"] % 25 == 0:
            tail = np.concatenate(heard[-50:])
            del heard[:-50]
            RESULT["audio_hz"] = pitch(tail, frame.sample_rate)


def pitch(pcm, rate):
    """Rising zero crossings per second, with hysteresis (as kh-media)."""
    threshold = max(np.sqrt(np.mean(pcm ** 2)) * 0.1, 1.0)
    state = np.where(pcm < -threshold, -1, np.where(pcm > threshold, 1, 0))
    state = state[state != 0]
    rising = np.count_nonzero((state[:-1] == -1) & (state[1:] == 1))
    return rising * rate / len(pcm)


def flood(pc, channels):
    """What a hostile peer with a valid seat can send on the data channels."""
    control, pointer = channels["control"], channels.get("pointer")
    pc.createDataChannel("control")
    for i in range(FLOOD):
        control.send(json.dumps({"type": "pong", "t": 1e12 + i}))
    for i in range(FLOOD):
        # t = 0: their pongs are not counted as round trips here.
        control.send(json.dumps({"type": "ping", "t": 0}))
    for _ in range(5):
        control.send(json.dumps({"type": "note", "text": "x" * (40 * 1024)}))
    if pointer:
        for i in range(FLOOD):
            pointer.send(json.dumps({"x": 0.5, "y": 0.5, "seq": i, "pad": "y" * 600 * (i % 2)}))
    RESULT["flooded"] = True


async def main(url, token, seconds, hostile=False):
    channels = {}
    started = time.monotonic()

    def adopt(channel):
        channels[channel.label] = channel

        @channel.on("message")
        def on_message(message):
            if channel.label == "pointer":
                RESULT["pointer_received"] += 1
                return
            RESULT["control_received"] += 1
            m = json.loads(message)
            if m.get("type") == "ping":
                channel.send(json.dumps({"type": "pong", "t": m.get("t")}))
            elif m.get("type") == "pong" and isinstance(m.get("t"), (int, float)) and m["t"] > 0:
                RESULT["pong_rtts"].append((time.monotonic() - started) * 1000 - m["t"])
                if RESULT["flooded"]:
                    RESULT["pong_rtts_after_flood"] += 1

    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "join", "version": 1, "token": token, "name": "aiortc"}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            RESULT["errors"].append(str(welcome))
            return
        RESULT["joined"] = True
        ice = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
               for s in welcome["ice_servers"] if not any(u.startswith("turn") for u in s["urls"])]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=ice))
        pc.addTrack(Bars())
        pc.addTrack(Tone())
        tasks = []

        @pc.on("connectionstatechange")
        def on_state():
            RESULT["states"].append(pc.connectionState)

        @pc.on("datachannel")
        def on_datachannel(channel):
            adopt(channel)

        @pc.on("track")
        def on_track(track):
            tasks.append(asyncio.ensure_future(
                read_video(track) if track.kind == "video" else read_audio(track)))

        remote = None

        async def send_description(kind):
            await ws.send(json.dumps({"type": kind, "to": remote, "sdp": pc.localDescription.sdp}))

        if welcome["participants"]:
            remote = welcome["participants"][0]["peer_id"]
            adopt(pc.createDataChannel("control"))
            adopt(pc.createDataChannel("pointer", ordered=False, maxRetransmits=0))
            await pc.setLocalDescription(await pc.createOffer())
            await send_description("offer")

        async def ticker():
            while True:
                await asyncio.sleep(0.5)
                t = (time.monotonic() - started) * 1000
                c, p = channels.get("control"), channels.get("pointer")
                if c and c.readyState == "open":
                    if hostile and not RESULT["flooded"]:
                        try:
                            flood(pc, channels)
                        except Exception as e:  # the test reads it
                            RESULT["errors"].append("flood: " + repr(e))
                            return
                    c.send(json.dumps({"type": "ping", "t": t}))
                if p and p.readyState == "open":
                    for i in range(15):
                        p.send(json.dumps({"x": 0.5, "y": 0.5, "seq": i}))

        async def signalling():
            nonlocal remote
            async for text in ws:
                m = json.loads(text)
                if m["type"] == "offer":
                    remote = m["from"]
                    await pc.setRemoteDescription(RTCSessionDescription(m["sdp"], "offer"))
                    await pc.setLocalDescription(await pc.createAnswer())
                    await send_description("answer")
                elif m["type"] == "answer":
                    await pc.setRemoteDescription(RTCSessionDescription(m["sdp"], "answer"))
                elif m["type"] == "candidate" and m.get("candidate"):
                    c = candidate_from_sdp(m["candidate"].removeprefix("candidate:"))
                    c.sdpMid, c.sdpMLineIndex = m.get("sdp_mid"), m.get("sdp_mline_index")
                    await pc.addIceCandidate(c)
                elif m["type"] == "error":
                    RESULT["errors"].append(m["code"] + ": " + m["message"])

        background = [asyncio.ensure_future(ticker()), asyncio.ensure_future(signalling())]
        await asyncio.sleep(seconds)
        for t in background + tasks:
            t.cancel()
        # The video codec kh chose in the description it sent.
        sdp = pc.remoteDescription.sdp if pc.remoteDescription else ""
        video = sdp[sdp.find("m=video"):]
        pt = video.split("\r\n")[0].split(" ")[3] if "m=video" in sdp else None
        for line in video.split("\r\n"):
            if pt and line.startswith(f"a=rtpmap:{pt} "):
                RESULT["video_codec"] = "video/" + line.split(" ")[1].split("/")[0]
        await ws.send(json.dumps({"type": "leave"}))
        await pc.close()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]),
                         hostile=sys.argv[4:5] == ["hostile"]))
    except Exception as e:  # reported, not swallowed: the test prints it
        RESULT["errors"].append(repr(e))
    print(json.dumps(RESULT))
