import io
import logging

from kit import logs
from kit.logbuffer import BufferedStreamHandler
from kit.testing.wait import eventually


def make_logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"test.logbuffer.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def test_info_lines_are_written_in_a_batch_by_the_writer_thread():
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=0.05)
    logger = make_logger(handler)
    logger.info("one")
    logger.info("two")
    eventually(lambda: stream.getvalue().count("\n") >= 2, timeout=5, interval=0.01)
    assert stream.getvalue().splitlines() == ["one", "two"]
    handler.close()


def test_warnings_are_written_at_once_with_what_came_before():
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=3600)
    logger = make_logger(handler)
    logger.info("context")
    assert stream.getvalue() == ""
    logger.warning("trouble")
    assert stream.getvalue().splitlines() == ["context", "trouble"]
    handler.close()


def test_a_full_buffer_is_written_at_once():
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=3600, max_lines=3)
    logger = make_logger(handler)
    for n in range(3):
        logger.info("line %d", n)
    assert stream.getvalue().splitlines() == ["line 0", "line 1", "line 2"]
    handler.close()


def test_close_flushes_what_is_left():
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=3600)
    make_logger(handler).info("last words")
    handler.close()
    assert stream.getvalue() == "last words\n"


def test_a_broken_stream_never_breaks_the_caller():
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=3600)
    logger = make_logger(handler)
    stream.close()
    logger.warning("into the void")
    assert not handler._lines
    handler.close()


def test_configure_buffers_stderr_but_not_an_explicit_stream():
    explicit = logs.configure("INFO", "logfmt", stream=io.StringIO())
    assert not isinstance(explicit, BufferedStreamHandler)
    default = logs.configure("INFO", "logfmt")
    try:
        assert isinstance(default, BufferedStreamHandler)
    finally:
        logging.getLogger().removeHandler(default)
        default.close()
