//! The twin's event log: every submit and completion, injected storage
//! faults, crashes and restarts, in order, and a run that logs is the same
//! run as one that does not (same trace hash).

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use twinio::*;

fn on_write(_: &mut u32, _: &mut SimIO<u32>, _: WriteDone) {}
fn on_read(_: &mut u32, _: &mut SimIO<u32>, _: ReadDone) {}
fn on_fsync(_: &mut u32, _: &mut SimIO<u32>, _: FsyncDone) {}

/// Writes, reads and fsyncs under frequent storage faults, then a crash.
fn run(log: Option<Rc<RefCell<Vec<SimEvent>>>>) -> u64 {
    let mut faults = FaultConfig::none();
    let often = Ratio::new(1, 4).expect("ratio");
    faults.storage.bit_rot = often;
    faults.storage.short_read = often;
    faults.storage.short_write = often;
    faults.storage.torn_write = often;
    let mut sim: SimIO<u32> = SimIO::new(11, 64, faults);
    if let Some(events) = log {
        sim.set_event_log(Some(Box::new(move |event| events.borrow_mut().push(*event))));
    }
    let dir = sim.open_dir(Path::new("/log")).unwrap();
    let size = 64 * SECTOR_SIZE as u64;
    let file =
        sim.open_data_file(dir, Path::new("data"), size, FilePurpose::Format, DirectIo::Disabled);
    let file = file.unwrap();
    for i in 0..32u64 {
        let data = Buffer::from_slice(&[i as u8; 4096]).unwrap();
        sim.write(file, data, .., i * 4096, i, on_write).unwrap();
        sim.read(file, Buffer::new(4096).unwrap(), .., i * 4096, 100 + i, on_read).unwrap();
        if i % 8 == 7 {
            sim.fsync(file, FsyncMode::Full, 200 + i, on_fsync).unwrap();
        }
        sim.run_until_done(&mut 0).unwrap();
    }
    sim.crash_node(NodeId::FIRST).unwrap();
    sim.restart_node(NodeId::FIRST).unwrap();
    sim.trace_hash()
}

#[test]
fn logging_changes_nothing_and_sees_everything() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let logged = run(Some(Rc::clone(&events)));
    assert_eq!(logged, run(None), "the log changed the run");
    let events = events.borrow();
    let count = |want: fn(&SimEventKind) -> bool| events.iter().filter(|e| want(&e.kind)).count();
    let submits = count(|k| matches!(k, SimEventKind::Submit { .. }));
    let completes = count(|k| matches!(k, SimEventKind::Complete { .. }));
    assert_eq!(submits, 32 + 32 + 4);
    assert_eq!(completes, submits, "one completion per submit");
    assert!(count(|k| matches!(k, SimEventKind::StorageFaults { .. })) > 0, "no fault logged");
    let kinds: Vec<&SimEventKind> = events.iter().map(|e| &e.kind).collect();
    assert!(matches!(kinds[kinds.len() - 2], SimEventKind::Crash { .. }));
    assert!(matches!(kinds[kinds.len() - 1], SimEventKind::Restart));
    // Times never go back, and every fault names an operation's file.
    assert!(events.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
    for event in events.iter() {
        if let SimEventKind::StorageFaults { faults, .. } = event.kind {
            assert!(!faults.is_empty());
            assert!(event.to_string().contains("fault fd"), "{event}");
        }
    }
}
